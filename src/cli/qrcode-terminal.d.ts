/** Types for qrcode-terminal 0.12 (it ships none): only the call the CLI makes. */
declare module "qrcode-terminal" {
  const qrcode: {
    generate(text: string, options: { small?: boolean }, callback: (qr: string) => void): void;
  };
  export default qrcode;
}
