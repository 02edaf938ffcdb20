// zstd-codec ships no type declarations; codec.ts describes the part it uses.
declare module "zstd-codec" {
  export const ZstdCodec: unknown;
}
