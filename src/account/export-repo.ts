import { sql } from "slonik";
import { z } from "zod";
import type { Db } from "../db/types.js";

/**
 * The sections of ExportAccountData, each one query returning JSON built by PostgreSQL
 * with the stored column names as keys (bytea as base64, times as ISO 8601). Only the
 * caller's own rows: other users appear at most as the ids of shared chats' senders.
 */
const json = z.object({ doc: z.unknown() });

export async function exportAccountSections(db: Db, userId: string): Promise<Record<string, unknown>> {
  const doc = await db.oneFirst(sql.type(json)`
    /* exportAccountSections */
    SELECT jsonb_build_object(
      'identities', (SELECT jsonb_build_object(
          'id', i.id, 'cyphr_id', i.cyphr_id,
          'identity_public_key', encode(i.identity_public_key, 'base64'), 'ml_kem_public_key', encode(i.ml_kem_public_key, 'base64'),
          'display_name', i.display_name, 'avatar_ref', i.avatar_ref,
          'encrypted_settings', encode(i.encrypted_settings, 'base64'),
          'discoverable', i.discoverable, 'share_presence', i.share_presence, 'next_device_id', i.next_device_id,
          'last_seen_at', i.last_seen_at, 'created_at', i.created_at, 'updated_at', i.updated_at)
        FROM identities i WHERE i.id = ${userId}),
      'devices', (SELECT coalesce(jsonb_agg(jsonb_build_object(
          'device_id', d.device_id, 'signing_key', encode(d.signing_key, 'base64'), 'certificate', encode(d.certificate, 'base64'),
          'fingerprint_hmac', encode(d.fingerprint_hmac, 'base64'), 'encrypted_name', encode(d.encrypted_name, 'base64'),
          'created_at', d.created_at, 'last_active_on', d.last_active_on) ORDER BY d.device_id), '[]'::jsonb)
        FROM devices d WHERE d.user_id = ${userId}),
      'sessions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
          'id', s.id, 'device_id', s.device_id, 'created_at', s.created_at, 'refreshed_at', s.refreshed_at,
          'expires_at', s.expires_at, 'revoked_at', s.revoked_at, 'revoke_reason', s.revoke_reason,
          'acked_cursor', s.acked_cursor) ORDER BY s.created_at), '[]'::jsonb)
        FROM sessions s WHERE s.user_id = ${userId}),
      'account_pins', (SELECT jsonb_build_object('set_at', p.set_at) FROM account_pins p WHERE p.user_id = ${userId}),
      'account_recovery_keys', (SELECT jsonb_build_object('public_key', encode(r.public_key, 'base64'),
          'signature', encode(r.signature, 'base64'), 'set_at', r.set_at) FROM account_recovery_keys r WHERE r.user_id = ${userId}),
      'account_totp', (SELECT jsonb_build_object('confirmed_at', t.confirmed_at, 'created_at', t.created_at)
        FROM account_totp t WHERE t.user_id = ${userId}),
      'account_attempts', (SELECT coalesce(jsonb_agg(jsonb_build_object('factor', a.factor, 'failures', a.failures,
          'locked_until', a.locked_until)), '[]'::jsonb) FROM account_attempts a WHERE a.user_id = ${userId}),
      'chats', (SELECT coalesce(jsonb_agg(jsonb_build_object(
          'id', c.id, 'kind', c.kind, 'protocol', c.protocol,
          'encrypted_name', encode(c.encrypted_name, 'base64'), 'encrypted_settings', encode(c.encrypted_settings, 'base64'),
          'group_version', c.group_version, 'timer_seconds', c.timer_seconds, 'created_at', c.created_at,
          'chat_members', jsonb_build_object('role', m.role, 'joined_at', m.joined_at, 'joined_seq', m.joined_seq,
            'left_at', m.left_at, 'left_seq', m.left_seq, 'left_reason', m.left_reason,
            'delivered_seq', m.delivered_seq, 'read_seq', m.read_seq)) ORDER BY c.created_at, c.id), '[]'::jsonb)
        FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = ${userId}),
      'calls', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', k.id, 'chat_id', k.chat_id, 'video', k.video, 'state', k.state,
          'end_reason', k.end_reason, 'created_at', k.created_at, 'answered_at', k.answered_at, 'ended_at', k.ended_at,
          'role', CASE WHEN k.caller_id = ${userId} THEN 'caller' ELSE 'callee' END) ORDER BY k.created_at), '[]'::jsonb)
        FROM calls k WHERE k.caller_id = ${userId} OR k.answered_by = ${userId}
          OR k.id IN (SELECT call_id FROM call_participants WHERE user_id = ${userId})),
      'events', (SELECT coalesce(jsonb_agg(jsonb_build_object('cursor', e.cursor, 'kind', e.kind, 'chat_id', e.chat_id,
          'seq', e.seq, 'created_at', e.created_at) ORDER BY e.cursor), '[]'::jsonb)
        FROM events e WHERE e.user_id = ${userId})
    ) AS doc`);
  return doc as Record<string, unknown>;
}

const messagePage = z.object({ chat_id: z.string(), seq: z.number(), row: z.unknown() });

/** The caller's own messages after (chatId, seq), in that order, at most `limit`, with their ciphertexts. */
export async function exportOwnMessages(
  db: Db,
  userId: string,
  after: { chatId: string; seq: number } | null,
  limit: number,
): Promise<{ chatId: string; seq: number; row: unknown }[]> {
  const rows = await db.any(sql.type(messagePage)`
    /* exportOwnMessages */
    SELECT m.chat_id, m.seq, jsonb_build_object('chat_id', m.chat_id, 'seq', m.seq, 'id', m.id,
      'client_message_id', m.client_message_id, 'message_type', m.message_type,
      'kem_ciphertext', encode(m.kem_ciphertext, 'base64'), 'ciphertext', encode(m.ciphertext, 'base64'),
      'nonce', encode(m.nonce, 'base64'), 'tag', encode(m.tag, 'base64'), 'header', encode(m.header, 'base64'),
      'created_at', m.created_at, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at, 'expires_at', m.expires_at) AS row
    FROM messages m
    WHERE m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = ${userId}) AND m.sender_id = ${userId}
      ${after ? sql.fragment`AND (m.chat_id, m.seq) > (${after.chatId}::uuid, ${after.seq})` : sql.fragment``}
    ORDER BY m.chat_id, m.seq
    LIMIT ${limit}`);
  return rows.map((r) => ({ chatId: r.chat_id, seq: r.seq, row: r.row }));
}
