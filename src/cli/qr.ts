/** QR codes drawn in the terminal (link codes, TOTP enrolment URIs). */
import qrcode from "qrcode-terminal";

export function qr(text: string): string {
  let result = "";
  qrcode.generate(text, { small: true }, (code) => (result = code));
  return result;
}
