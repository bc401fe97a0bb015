import argon2 from "argon2";
import { InvalidArgumentError } from "../shared/errors.js";

/** argon2id costs (PIN_ARGON2_MEMORY_KIB, PIN_ARGON2_TIME_COST, PIN_ARGON2_PARALLELISM). */
export interface PinHashParameters {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
}

export const MIN_PIN_CHARS = 4;
export const MAX_PIN_CHARS = 64;

/** The PIN as hashed: NFC-normalised, 4 to 64 code points. */
export function requirePin(field: string, pin: string): string {
  const normalized = pin.normalize("NFC");
  const chars = [...normalized].length;
  if (chars < MIN_PIN_CHARS || chars > MAX_PIN_CHARS) {
    throw new InvalidArgumentError(`${field} must be ${MIN_PIN_CHARS} to ${MAX_PIN_CHARS} characters, got ${chars}`);
  }
  return normalized;
}

/**
 * Hashes and checks PINs with argon2id. The PHC string keeps the parameters it was made
 * with, so a hash made with lower costs than the configured ones still verifies and is
 * reported for re-hashing.
 */
export class PinHashing {
  constructor(private readonly parameters: PinHashParameters) {}

  hash(pin: string): Promise<string> {
    return argon2.hash(pin, {
      type: argon2.argon2id,
      memoryCost: this.parameters.memoryKib,
      timeCost: this.parameters.timeCost,
      parallelism: this.parameters.parallelism,
    });
  }

  async verify(hash: string, pin: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, pin);
    } catch {
      return false;
    }
  }

  /** True when any cost in `hash` (its m=…,t=…,p=… parameters, in any order) is below the configured one. */
  isWeakerThanConfigured(hash: string): boolean {
    const parameters = new Map((hash.split("$")[3] ?? "").split(",").map((pair) => pair.split("=") as [string, string]));
    const cost = (name: string) => Number(parameters.get(name) ?? 0);
    return cost("m") < this.parameters.memoryKib || cost("t") < this.parameters.timeCost || cost("p") < this.parameters.parallelism;
  }
}
