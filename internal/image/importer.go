package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/store"
)

// ImportOptions are `docker import`'s: Dockerfile instructions applied to
// the config, a commit message, the platform recorded.
type ImportOptions struct {
	Changes  []string
	Message  string
	Platform *ocispec.Platform
}

// Import makes a one-layer image from a root filesystem tar (uncompressed,
// gzip or zstd) and names it ref ("" for an untagged image). Returns the ID.
func (s *Service) Import(ctx context.Context, r io.Reader, ref string, opts ImportOptions) (digest.Digest, error) {
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return "", err
	}
	defer unlock()
	var named registry.Reference
	if ref != "" {
		var err error
		if named, err = registry.ParseReference(ref); err != nil {
			return "", err
		}
	}
	cfg, err := applyChanges(opts.Changes)
	if err != nil {
		return "", err
	}
	st, err := s.snaps.Stage(ctx)
	if err != nil {
		return "", err
	}
	defer st.Abort()
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return "", err
	}
	defer dr.Close()
	if _, err := archive.Apply(ctx, st.Dir, dr, archive.ApplyOptions{Whiteouts: archive.ApplyWhiteouts}); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	// The layer is recorded as gantry's own tar of the files, not the tar
	// given: a push then sends exactly the bytes the diff ID names.
	h := sha256.New()
	counter := &countWriter{w: h}
	if err := archive.Diff(ctx, st.Dir, counter, archive.TarOptions{}); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	size := counter.n
	diffID := digest.NewDigest(digest.SHA256, h)
	if err := st.Commit(ctx, diffID, ""); err != nil {
		return "", err
	}

	platform := hostPlatform()
	if opts.Platform != nil {
		platform = *opts.Platform
	}
	now := time.Now().UTC()
	img := dockerspec.DockerOCIImage{
		Image: ocispec.Image{
			Created:  &now,
			Platform: platform,
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
			History: []ocispec.History{{
				Created: &now, CreatedBy: "", Comment: importComment(opts.Message),
			}},
		},
		Config: cfg,
	}
	cfgData, err := json.Marshal(img)
	if err != nil {
		return "", err
	}
	var names []registry.Reference
	if named.Tag() != "" {
		names = append(names, named)
	}
	return s.storeImage(ctx, cfgData, []int64{size}, names, "")
}

func importComment(msg string) string {
	if msg != "" {
		return msg
	}
	return "Imported from -"
}

// storeImage writes an image's config blob as given and records its layers
// (already unpacked, with their sizes), the image and its names in one
// transaction. An image already recorded keeps its repository digests.
// The also functions run last in the same transaction (a build records its
// cache there).
func (s *Service) storeImage(ctx context.Context, cfgData []byte, sizes []int64, names []registry.Reference, parent digest.Digest, also ...func(*store.Tx) error) (digest.Digest, error) {
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return "", errdefs.Invalid("image config: %v", err)
	}
	id := digest.FromBytes(cfgData)
	if _, err := s.content.Ingest(ctx, "config-"+id.String(), id, int64(len(cfgData)), bytes.NewReader(cfgData)); err != nil {
		return "", err
	}
	diffIDs := cfg.RootFS.DiffIDs
	chains := chainIDs(diffIDs)
	img := store.Image{
		ID: id, Layers: chains, DiffIDs: diffIDs, Platform: cfg.Platform,
		Labels: cfg.Config.Labels, Parent: parent, LastUsed: time.Now(),
	}
	if cfg.Created != nil {
		img.Created = *cfg.Created
	}
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		for i, chain := range chains {
			var p digest.Digest
			if i > 0 {
				p = chains[i-1]
			}
			l, err := tx.Layer(chain)
			if err != nil {
				l = store.Layer{ChainID: chain, DiffID: diffIDs[i], Parent: p, Size: sizes[i]}
				if err := tx.PutLayer(l); err != nil {
					return err
				}
			}
			img.Size += l.Size
		}
		if old, err := tx.Image(id); err == nil {
			img.RepoDigests, img.ManifestDigest, img.ManifestMediaType = old.RepoDigests, old.ManifestDigest, old.ManifestMediaType
		}
		if err := tx.PutImage(img); err != nil {
			return err
		}
		for _, ref := range names {
			if err := tx.SetName(ref.String(), id); err != nil {
				return err
			}
		}
		for _, fn := range also {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	return id, err
}

// applyChanges reads `--change` instructions into an image config.
func applyChanges(changes []string) (dockerspec.DockerOCIImageConfig, error) {
	var cfg dockerspec.DockerOCIImageConfig
	for _, c := range changes {
		instr, rest, _ := strings.Cut(strings.TrimSpace(c), " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "CMD":
			cfg.Cmd = commandForm(rest)
		case "ENTRYPOINT":
			cfg.Entrypoint = commandForm(rest)
		case "ENV":
			cfg.Env = append(cfg.Env, keyValues(rest)...)
		case "LABEL":
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range keyValues(rest) {
				k, v, _ := strings.Cut(kv, "=")
				cfg.Labels[k] = v
			}
		case "EXPOSE":
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "USER":
			cfg.User = rest
		case "WORKDIR":
			cfg.WorkingDir = rest
		case "STOPSIGNAL":
			cfg.StopSignal = rest
		case "VOLUME":
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			// A JSON array or paths separated by spaces, never a shell form.
			vols := strings.Fields(rest)
			if strings.HasPrefix(rest, "[") {
				vols = commandForm(rest)
			}
			for _, v := range vols {
				cfg.Volumes[v] = struct{}{}
			}
		default:
			return cfg, errdefs.Invalid("%s is not a valid change command: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR", instr)
		}
	}
	return cfg, nil
}

// commandForm reads an exec form (JSON array) or a shell form.
func commandForm(s string) []string {
	var list []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues reads "k=v k2=v2" or the old "k v" form.
func keyValues(s string) []string {
	if !strings.Contains(s, "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, k+"="+strings.Trim(v, `"`))
	}
	return out
}

// Busybox makes an image named ref (default busybox:latest) from this host's
// static busybox: the binary, a link per applet, /etc/passwd and /etc/group,
// CMD ["sh"]. Tests and the demo use it; nothing is downloaded.
func (s *Service) Busybox(ctx context.Context, ref string) (digest.Digest, error) {
	if ref == "" {
		ref = "busybox:latest"
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		bb = "/bin/busybox"
		if _, err := os.Stat(bb); err != nil {
			return "", errdefs.NotFound("no busybox on this host: install Debian's busybox-static")
		}
	}
	dir, err := os.MkdirTemp("", "gantry-busybox-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := BusyboxTree(bb, dir); err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.Tar(ctx, dir, pw, archive.TarOptions{ClampMtime: time.Unix(0, 0)}))
	}()
	defer pr.Close()
	return s.Import(ctx, pr, ref, ImportOptions{
		Changes: []string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Message: "busybox from " + bb,
	})
}

// BusyboxTree fills dir with a busybox root filesystem made from the static
// busybox at bb: the binary, a link per applet, /etc/passwd and /etc/group,
// and the usual empty directories.
func BusyboxTree(bb, dir string) error {
	for _, d := range []string{"bin", "etc", "tmp", "root", "proc", "sys", "dev", "var", "usr/bin", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
