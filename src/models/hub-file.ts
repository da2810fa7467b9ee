// One file of a model repo as the hub lists it, once checked (hub-file-check.ts): what to download and verify.
export interface HubFile {
  path: string;
  size: number;
  /** The blob's name in the cache: the LFS sha256 for LFS files, the git blob sha1 otherwise (huggingface_hub's etag). */
  etag: string;
  /** How to verify the contents: sha256 of the bytes (LFS), or git's blob sha1 ("blob <size>\0" + bytes). */
  hash: { kind: "sha256" | "git-sha1"; value: string };
}
