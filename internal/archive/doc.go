// Package archive reads and writes layer tar streams: compression
// (Decompress, Compress), extraction that cannot leave its root (Apply),
// whiteouts in overlayfs form (0/0 character devices and opaque xattrs, for
// a layer directory used as an overlay lower) or applied form (removals, for
// flattening onto a tree), and deterministic tar output of a tree (Tar) or of
// an overlayfs upper directory (Diff).
//
// A pull unpacks each layer with
//
//	rc, _, err := archive.Decompress(blob)
//	size, err := archive.Apply(ctx, dir, rc, archive.ApplyOptions{})
//	rc.Close()
//	err = archive.Sync(ctx, dir)
//
// and a commit writes Diff(upper) through Compress. Everything here is
// Linux-only: it relies on openat2 (Linux 5.6) for path resolution scoped to
// the layer directory.
package archive
