import type { Command } from "commander";

export function chatCommand(_program: Command): void {}
