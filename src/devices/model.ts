/** One device of an account, as anyone may know it. */
export interface Device {
  deviceId: number;
  signingKey: Uint8Array;
  /** Null only for device 1 of an account from before devices existed (its key is the identity key). */
  certificate: Uint8Array | null;
  encryptedName: Uint8Array;
  createdAt: Date;
  /** Midnight UTC of the last day the device logged in or refreshed. */
  lastActiveDate: Date;
}

/** What the new device learns when its link is approved. */
export interface LinkApproval {
  cyphrId: string;
  userId: string;
  deviceId: number;
  certificate: Uint8Array;
  provisioningBlob: Uint8Array;
}
