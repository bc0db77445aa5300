package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// download fetches an ADD URL into the builder's work directory, checked
// against --checksum when given; the file is removed with the build.
func (r *buildRun) download(ctx context.Context, rawURL, checksum string) (urlFile, string, error) {
	if checksum != "" {
		if _, err := digest.Parse(checksum); err != nil {
			return urlFile{}, "", errdefs.Invalid("invalid checksum %q: %v", checksum, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %v", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(r.b.tmpDir, "dl-")
	if err != nil {
		return urlFile{}, "", err
	}
	r.mu.Lock()
	r.cleanup = append(r.cleanup, tmp.Name())
	r.mu.Unlock()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return urlFile{}, "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	got := digest.NewDigest(digest.SHA256, h)
	if checksum != "" && digest.Digest(checksum) != got {
		if d := digest.Digest(checksum); d.Algorithm() != digest.SHA256 || d != got {
			return urlFile{}, "", errdefs.Invalid("ADD %s: checksum mismatch: expected %s, got %s", rawURL, checksum, got)
		}
	}
	name := "__unnamed__"
	if u, err := neturl.Parse(rawURL); err == nil && u.Path != "" && !strings.HasSuffix(u.Path, "/") {
		name = path.Base(u.Path)
	}
	f := urlFile{name: name, path: tmp.Name()}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		f.mtime = lm
	}
	return f, got.String(), nil
}
