/**
 * A signed-in profile, as most commands need it: the account, its MLS device and clients for
 * the services the CLI calls directly, all over the profile's transport.
 */
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { GroupsService } from "../gen/cyphr/groups/v1/groups_pb.js";
import { MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { PrivacyService } from "../gen/cyphr/privacy/v1/privacy_pb.js";
import { Account, MlsDevice } from "../sdk/index.js";
import { openProfile, type Profile, transportOf } from "./profile.js";

export interface Session {
  profile: Profile;
  transport: Transport;
  account: Account;
  mls: MlsDevice;
  messaging: Client<typeof MessagingService>;
  groups: Client<typeof GroupsService>;
  privacy: Client<typeof PrivacyService>;
  /** Call options with the current access token (refreshed when due). */
  auth(): Promise<{ headers: Record<string, string> }>;
}

/** Opens the profile and the account it holds (no call to the server yet). */
export async function openSession(profileName: string): Promise<Session> {
  const profile = await openProfile(profileName);
  return sessionOf(profile, await Account.open({ transport: transportOf(profile), store: profile.store }));
}

export function sessionOf(profile: Profile, account: Account): Session {
  const transport = transportOf(profile);
  return {
    profile,
    transport,
    account,
    mls: new MlsDevice(transport, account, account.deviceIdentity(), profile.store),
    messaging: createClient(MessagingService, transport),
    groups: createClient(GroupsService, transport),
    privacy: createClient(PrivacyService, transport),
    auth: async () => ({ headers: { authorization: `Bearer ${await account.accessToken()}` } }),
  };
}
