// Diagnostic only, never for the product: `node bench/profile.mjs … --no-fsync` builds this
// and preloads it into wrangler dev, so fsync and fdatasync return at once without flushing
// the disk. Comparing a run with it against one without gives what the per-commit flush
// costs the Worker's thread; the data written is the same, only its flush is skipped.
int fsync(int fd) {
  (void)fd;
  return 0;
}

int fdatasync(int fd) {
  (void)fd;
  return 0;
}
