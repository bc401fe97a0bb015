import type { ContentTypeName, SenderTypeName } from "ts-mls";
import { decodeWholeMlsMessage } from "./decode.js";
import { isSupportedCiphersuite, type SupportedCiphersuite } from "./suites.js";

/** What the delivery service may read of a handshake or application message: its public framing. */
export interface MlsFraming {
  wireFormat: "private" | "public";
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentTypeName;
  /** Public messages only: who sent it (member, external, new_member_commit, …); encrypted in a PrivateMessage. */
  senderType?: SenderTypeName;
  /** Public commits with an update path: the committer's new leaf (its credential identity and signature key). */
  committerLeaf?: { credentialIdentity: Uint8Array | undefined; signatureKey: Uint8Array };
}

/** An MLS message's framing, or a reason it is not a group message. */
export function readFraming(bytes: Uint8Array): MlsFraming | string {
  const message = decodeWholeMlsMessage(bytes);
  if (!message) return "is not an MLS message of version mls10";
  if (message.wireformat === "mls_private_message") {
    const m = message.privateMessage;
    return { wireFormat: "private", groupId: m.groupId, epoch: m.epoch, contentType: m.contentType };
  }
  if (message.wireformat === "mls_public_message") {
    const c = message.publicMessage.content;
    const leaf = c.contentType === "commit" ? c.commit.path?.leafNode : undefined;
    return {
      wireFormat: "public",
      groupId: c.groupId,
      epoch: c.epoch,
      contentType: c.contentType,
      senderType: c.sender.senderType,
      ...(leaf && {
        committerLeaf: {
          credentialIdentity: leaf.credential.credentialType === "basic" ? leaf.credential.identity : undefined,
          signatureKey: leaf.signaturePublicKey,
        },
      }),
    };
  }
  return `is not a PrivateMessage or PublicMessage (wire format ${message.wireformat})`;
}

/** A Welcome's suite and the KeyPackageRefs of the members it welcomes. */
export interface WelcomeFraming {
  ciphersuite: SupportedCiphersuite;
  newMembers: Uint8Array[];
}

export function readWelcome(bytes: Uint8Array): WelcomeFraming | string {
  const message = decodeWholeMlsMessage(bytes);
  if (!message) return "is not an MLS message of version mls10";
  if (message.wireformat !== "mls_welcome") return `is not a Welcome (wire format ${message.wireformat})`;
  const suite = message.welcome.cipherSuite;
  if (!isSupportedCiphersuite(suite)) return `uses an unsupported ciphersuite ${String(suite)}`;
  if (message.welcome.secrets.length === 0) return "welcomes no member";
  return { ciphersuite: suite, newMembers: message.welcome.secrets.map((s) => s.newMember) };
}

/** A GroupInfo's group id, epoch and suite (its signature is the members' to check). */
export interface GroupInfoFraming {
  ciphersuite: SupportedCiphersuite;
  groupId: Uint8Array;
  epoch: bigint;
}

export function readGroupInfo(bytes: Uint8Array): GroupInfoFraming | string {
  const message = decodeWholeMlsMessage(bytes);
  if (!message) return "is not an MLS message of version mls10";
  if (message.wireformat !== "mls_group_info") return `is not a GroupInfo (wire format ${message.wireformat})`;
  const context = message.groupInfo.groupContext;
  if (!isSupportedCiphersuite(context.cipherSuite)) return `uses an unsupported ciphersuite ${String(context.cipherSuite)}`;
  return { ciphersuite: context.cipherSuite, groupId: context.groupId, epoch: context.epoch };
}
