/** Largest call signal payload (SDP or ICE candidate), in bytes: realtime.proto CallSignal.payload. */
export const MAX_SIGNAL_PAYLOAD_BYTES = 65_536;
