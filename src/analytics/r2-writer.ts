import { ByteWriter } from "hyparquet-writer";

/**
 * R2 takes a multipart upload's parts at 5 MiB or more, all of one size but the last
 * (https://developers.cloudflare.com/r2/objects/multipart-objects/).
 */
export const PART_BYTES = 5 * 1024 * 1024;

/**
 * The byte sink of hyparquet-writer's `ParquetWriter`, writing one R2 object in bounded
 * memory: the writer calls `flush` after each row group, which ships every whole part of
 * `partBytes` as a part of a multipart upload (begun with the first part) and keeps the
 * rest. `finish` puts a file smaller than one part in a single request, else ships what is
 * left as parts, the last one shorter, and completes the upload. The object appears whole or not at all; a failure
 * aborts the upload.
 */
export class R2ObjectWriter extends ByteWriter {
  private upload: R2MultipartUpload | undefined;
  private readonly parts: R2UploadedPart[] = [];

  constructor(
    private readonly bucket: R2Bucket,
    readonly key: string,
    private readonly options: R2PutOptions & R2MultipartOptions,
    private readonly partBytes = PART_BYTES,
  ) {
    super(64 * 1024);
  }

  /** Ships the whole parts held so far (ParquetWriter awaits it before the next row group). */
  flush(): Promise<void> | undefined {
    return this.index >= this.partBytes ? this.ship() : undefined;
  }

  private async ship(): Promise<void> {
    try {
      while (this.index >= this.partBytes) {
        const part = this.buffer.slice(0, this.partBytes);
        this.upload ??= await this.bucket.createMultipartUpload(this.key, this.options);
        this.parts.push(await this.upload.uploadPart(this.parts.length + 1, part));
        new Uint8Array(this.buffer).copyWithin(0, this.partBytes, this.index);
        this.index -= this.partBytes;
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Writes what is left and makes the object: its size is `offset`, every byte written. */
  override finish(): Promise<void> {
    return this.complete();
  }

  private async complete(): Promise<void> {
    if (!this.upload && this.index < this.partBytes) {
      await this.bucket.put(this.key, this.getBytes(), this.options);
      return;
    }
    try {
      await this.ship();
      const upload = this.upload!;
      if (this.index > 0) this.parts.push(await upload.uploadPart(this.parts.length + 1, this.getBuffer()));
      await upload.complete(this.parts);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Drops an unfinished multipart upload (its parts are billed as storage until then). */
  async abort(): Promise<void> {
    const upload = this.upload;
    this.upload = undefined;
    if (!upload) return;
    try {
      await upload.abort();
    } catch (error) {
      console.error("analytics export: aborting a multipart upload failed", this.key, error);
    }
  }
}
