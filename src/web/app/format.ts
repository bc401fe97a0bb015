/** Display helpers. */
export function timeOf(date: Date | undefined): string {
  if (!date) return "";
  const sameDay = new Date().toDateString() === date.toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

export const TIMER_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 0, label: "Off" },
  { seconds: 30, label: "30 seconds" },
  { seconds: 300, label: "5 minutes" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "1 day" },
  { seconds: 604_800, label: "1 week" },
];

export function timerLabel(seconds: number): string {
  return TIMER_CHOICES.find((c) => c.seconds === seconds)?.label ?? `${seconds} s`;
}

/** Initials for an avatar. */
export function initials(name: string): string {
  return (
    name
      .replace(/[^a-z0-9]/gi, " ")
      .trim()
      .split(/\s+/)
      .map((p) => p[0] ?? "")
      .join("")
      .slice(0, 2) || "?"
  ).toUpperCase();
}
