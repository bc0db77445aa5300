package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/archive"
)

// `cp` copies between a container and the local filesystem through the
// archive API, with the docker CLI's rules: a directory copied into an
// existing directory lands inside it, else it takes the destination's
// name; "dir/." copies what is inside; a destination ending in "/" must be
// a directory; "-" is a tar stream on stdin or stdout. What comes out of a
// container is unpacked by internal/archive, which cannot leave the
// destination directory, owned by the user running the command (as
// docker's); a symlink in it that climbs out of the destination is refused
// as docker refuses it.

type cpOptions struct {
	followLink, copyUIDGID, quiet bool
}

func newCpCommand() *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tgantry cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin\n" +
			"and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a\n" +
			"container source to stdout.",
		Args: exactArgs(2),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				o.quiet = !isTerminalWriter(cmd.OutOrStdout())
			}
			return runCopy(ctx, cmd, api, args[0], args[1], o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.copyUIDGID, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// splitCpArg takes "CONTAINER:PATH" apart; a local path with a colon is
// written "./a:b" or "/x/a:b".
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

func runCopy(ctx context.Context, cmd *cobra.Command, api *apiClient, src, dst string, o cpOptions) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr != "":
		return copyFromContainer(ctx, cmd, api, srcCtr, srcPath, dstPath, o)
	case dstCtr != "":
		return copyToContainer(ctx, cmd, api, srcPath, dstCtr, dstPath, o)
	}
	return errors.New("must specify at least one container source")
}

// keepTrailing is p made absolute (clean) with the trailing "/" or "/."
// of orig kept: they change what is copied.
func keepTrailing(p, orig string) string {
	switch {
	case orig == "." || strings.HasSuffix(orig, "/."):
		if p == "/" {
			return "/."
		}
		return p + "/."
	case strings.HasSuffix(orig, "/") && p != "/":
		return p + "/"
	}
	return p
}

func assertsDir(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."
}

// splitDirEntry is a path's directory and last element, "." for a path
// that ends in "/.".
func splitDirEntry(p string) (string, string) {
	if p == "." || strings.HasSuffix(p, "/.") {
		return path.Clean(p), "."
	}
	c := path.Clean(p)
	return path.Dir(c), path.Base(c)
}

// copyTarget is where a copy goes: the directory the tar is unpacked in,
// and the renaming of its top entry (from "" when none).
type copyTarget struct {
	dir      string
	from, to string
}

// placeCopy decides where a source of the given kind goes, given what the
// destination is: docker's rules.
func placeCopy(srcIsDir bool, srcBase, dstPath string, dstExists, dstIsDir bool) (copyTarget, error) {
	dstDir, dstBase := splitDirEntry(dstPath)
	switch {
	case dstExists && dstIsDir:
		return copyTarget{dir: strings.TrimSuffix(strings.TrimSuffix(dstPath, "/."), "/")}, nil
	case dstExists && srcIsDir:
		return copyTarget{}, errors.New("cannot copy directory")
	case dstExists, srcIsDir:
		return copyTarget{dir: dstDir, from: srcBase, to: dstBase}, nil
	case assertsDir(dstPath):
		return copyTarget{}, errors.New("no such directory")
	}
	return copyTarget{dir: dstDir, from: srcBase, to: dstBase}, nil
}

// renamed is name with its first element from replaced by to. A source
// named "/" (the root) or "." (a directory's contents) has its entries
// put under to.
func (t copyTarget) renamed(name string) string {
	if t.from == "" || t.from == t.to {
		return name
	}
	clean := strings.TrimPrefix(strings.TrimLeft(name, "/"), "./")
	from := strings.Trim(t.from, "/")
	if from == "." {
		from = ""
	}
	switch {
	case from == "" && (clean == "" || clean == "."):
		return t.to + "/"
	case from == "":
		return t.to + "/" + clean
	case clean == from || strings.HasPrefix(clean, from+"/"):
		return t.to + clean[len(from):]
	}
	return name
}

// rewriteTar copies a tar stream, renaming its top entry and checking each
// entry with check.
func rewriteTar(ctx context.Context, in io.Reader, t copyTarget, check func(*tar.Header) error) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(in)
		tw := tar.NewWriter(pw)
		err := func() error {
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					return tw.Close()
				}
				if err != nil {
					return err
				}
				hdr.Name = t.renamed(hdr.Name)
				if hdr.Typeflag == tar.TypeLink {
					hdr.Linkname = t.renamed(hdr.Linkname)
				}
				if check != nil {
					if err := check(hdr); err != nil {
						return err
					}
				}
				if err := tw.WriteHeader(hdr); err != nil {
					return err
				}
				if _, err := io.Copy(tw, tr); err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}()
		pw.CloseWithError(err)
	}()
	return pr
}

// countingReader counts the bytes that went through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func copyFromContainer(ctx context.Context, cmd *cobra.Command, api *apiClient, ctr, srcPath, dstPath string, o cpOptions) error {
	if dstPath != "-" {
		abs, err := filepath.Abs(dstPath)
		if err != nil {
			return err
		}
		dstPath = keepTrailing(abs, dstPath)
	}
	// With -L a symlink is copied as what it points to, under its own name.
	rebase := ""
	if o.followLink {
		if st, err := api.ContainerStatPath(ctx, ctr, srcPath); err == nil && st.Mode&os.ModeSymlink != 0 {
			target := st.LinkTarget
			if !path.IsAbs(target) {
				dir, _ := splitDirEntry(srcPath)
				target = path.Join(dir, target)
			}
			_, rebase = splitDirEntry(srcPath)
			srcPath = keepTrailing(target, srcPath)
		}
	}
	content, stat, err := api.CopyFromContainer(ctx, ctr, srcPath)
	if err != nil {
		return err
	}
	defer content.Close()
	if dstPath == "-" {
		_, err := io.Copy(cmd.OutOrStdout(), content)
		return err
	}
	var copied atomic.Int64
	in := io.Reader(countingReader{content, &copied})
	_, srcBase := splitDirEntry(srcPath)
	if stat.Mode.IsDir() && srcBase != "." {
		srcBase = stat.Name
	}
	dstExists, dstIsDir := false, false
	fi, err := os.Stat(dstPath)
	switch {
	case err == nil:
		dstExists, dstIsDir = true, fi.IsDir()
	case errors.Is(err, os.ErrNotExist):
		parent, _ := splitDirEntry(dstPath)
		if _, err := os.Stat(parent); err != nil {
			return err
		}
	default:
		return err
	}
	target, err := placeCopy(stat.Mode.IsDir(), firstNonEmpty(rebase, srcBase), dstPath, dstExists, dstIsDir)
	if err != nil {
		return err
	}
	if rebase != "" {
		// The tar names the target; it is renamed to the link's name first.
		inner := copyTarget{from: srcBase, to: rebase}
		in = rewriteTar(ctx, in, inner, nil)
	}
	checked := rewriteTar(ctx, in, target, func(hdr *tar.Header) error {
		if hdr.Typeflag != tar.TypeSymlink || path.IsAbs(hdr.Linkname) {
			return nil
		}
		p := filepath.Join(target.dir, hdr.Name)
		if dest := filepath.Join(filepath.Dir(p), hdr.Linkname); dest != target.dir && !strings.HasPrefix(dest, target.dir+"/") && target.dir != "/" {
			return refusedEntry{fmt.Errorf("invalid symlink %q -> %q", p, hdr.Linkname)}
		}
		return nil
	})
	defer checked.Close()
	_, err = archive.Apply(ctx, target.dir, checked, archive.ApplyOptions{
		Whiteouts: archive.LiteralWhiteouts, NoOwnership: true, NoOverwriteDirNonDir: true,
	})
	var refused refusedEntry
	if errors.As(err, &refused) {
		return refused
	}
	if err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "Successfully copied %s to %s\n", humanSize(copied.Load()), dstPath)
	}
	return nil
}

// refusedEntry is an entry docker's cp refuses to unpack.
type refusedEntry struct{ error }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func copyToContainer(ctx context.Context, cmd *cobra.Command, api *apiClient, srcPath, ctr, dstPath string, o cpOptions) error {
	if srcPath != "-" {
		abs, err := filepath.Abs(srcPath)
		if err != nil {
			return err
		}
		srcPath = keepTrailing(abs, srcPath)
	}
	// What the destination is, a symlink followed (inside the container).
	dstInfoPath, dstExists, dstIsDir := dstPath, false, false
	if st, err := api.ContainerStatPath(ctx, ctr, dstPath); err == nil {
		if st.Mode&os.ModeSymlink != 0 {
			target := st.LinkTarget
			if !path.IsAbs(target) {
				dir, _ := splitDirEntry(dstPath)
				target = path.Join(dir, target)
			}
			dstInfoPath = target
			st, err = api.ContainerStatPath(ctx, ctr, target)
			if err != nil {
				goto decided
			}
		}
		if !st.Mode.IsDir() && !st.Mode.IsRegular() {
			return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file", ctr, dstPath)
		}
		dstExists, dstIsDir = true, st.Mode.IsDir()
	}
decided:
	if srcPath == "-" {
		if !dstIsDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, dstPath)
		}
		return api.CopyToContainer(ctx, ctr, dstInfoPath, cmd.InOrStdin(), copyOpts(o))
	}
	fi, err := os.Lstat(strings.TrimSuffix(srcPath, "/."))
	if err != nil {
		return err
	}
	srcReal, rebase := srcPath, ""
	if o.followLink && fi.Mode()&os.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(strings.TrimSuffix(srcPath, "/."))
		if err != nil {
			return err
		}
		if fi, err = os.Stat(real); err != nil {
			return err
		}
		_, rebase = splitDirEntry(srcPath)
		srcReal = keepTrailing(real, srcPath)
	}
	if assertsDir(srcPath) && !fi.IsDir() {
		return fmt.Errorf("lstat %s: not a directory", srcPath)
	}
	_, srcBase := splitDirEntry(srcReal)
	name := firstNonEmpty(rebase, srcBase)
	target, err := placeCopy(fi.IsDir(), name, dstInfoPath, dstExists, dstIsDir)
	if err != nil {
		return err
	}
	var sent atomic.Int64
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarLocal(ctx, pw, strings.TrimSuffix(srcReal, "/."), fi, name)) }()
	defer pr.Close()
	content := rewriteTar(ctx, countingReader{pr, &sent}, target, nil)
	defer content.Close()
	if err := api.CopyToContainer(ctx, ctr, target.dir, content, copyOpts(o)); err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "Successfully copied %s to %s:%s\n", humanSize(sent.Load()), ctr, dstInfoPath)
	}
	return nil
}

func copyOpts(o cpOptions) apiclient.CopyToContainerOptions {
	return apiclient.CopyToContainerOptions{CopyUIDGID: o.copyUIDGID}
}

// tarLocal writes the local file or directory p as a tar whose top entry
// is name ("." for a directory's contents).
func tarLocal(ctx context.Context, w io.Writer, p string, fi os.FileInfo, name string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat information", p)
	}
	tw := tar.NewWriter(w)
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, strings.TrimSuffix(name, "/")+"/"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return archive.Tar(ctx, p, w, archive.TarOptions{Prefix: hdr.Name})
	case unix.S_IFREG:
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, f, st.Size); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: only regular files, directories and symlinks can be copied", p)
	}
	return tw.Close()
}
