package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	buildtypes "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/build"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// localContextParam names, instead of a tar body, a context directory on
// the daemon's machine (gantry's CLI over a unix socket).
const localContextParam = "gantry.contextdir"

// Build is the build area of the API: POST /build (Docker's classic
// protocol: a tar context, JSON messages back) and POST /build/prune.
type Build struct {
	B *build.Builder
	// TmpDir holds the contexts sent, unpacked, while their build runs.
	TmpDir string
}

func (b Build) Routes() []Route {
	return []Route{
		{"POST", "/build", b.build},
		{"POST", "/build/prune", b.prune},
	}
}

func (b Build) build(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := r.ParseForm(); err != nil {
		return errdefs.Invalid("%v", err)
	}
	if v := r.FormValue("version"); v == "2" {
		return errdefs.Invalid("BuildKit is not supported by gantry: build with the classic builder (DOCKER_BUILDKIT=0)")
	}
	if r.FormValue("remote") != "" {
		return errdefs.Invalid("remote build contexts are not supported: send the context as a tar")
	}
	o := build.Options{
		Tags:        r.Form["t"],
		Dockerfile:  r.FormValue("dockerfile"),
		Target:      r.FormValue("target"),
		NoCache:     BoolValue(r, "nocache"),
		Pull:        BoolValue(r, "pull"),
		Quiet:       BoolValue(r, "q"),
		NetworkMode: r.FormValue("networkmode"),
	}
	if err := buildExtras(r, &o); err != nil {
		return err
	}
	if s := r.FormValue("buildargs"); s != "" {
		if err := json.Unmarshal([]byte(s), &o.BuildArgs); err != nil {
			return errdefs.Invalid("invalid buildargs: %v", err)
		}
	}
	if s := r.FormValue("labels"); s != "" {
		if err := json.Unmarshal([]byte(s), &o.Labels); err != nil {
			return errdefs.Invalid("invalid labels: %v", err)
		}
	}
	if p := r.FormValue("platform"); p != "" && p != "linux/"+hostArch() && p != "linux" {
		return errdefs.Invalid("platform %q is not this host's (linux/%s): gantry builds for the host only", p, hostArch())
	}
	out := newProgressStream(w)
	if local := r.FormValue(localContextParam); local != "" {
		// gantry's CLI on this machine names its context directory rather
		// than sending it: the directory is read where the client sees
		// it (through its root, so also from another mount namespace),
		// and unchanged files are not even read again (their checksums
		// are kept by inode). The body, if any, is the Dockerfile.
		pid, ok := peerPID(ctx)
		if !ok || !filepath.IsAbs(local) {
			return errdefs.Invalid("%s needs a local client on a unix socket and an absolute path", localContextParam)
		}
		o.ContextDir = filepath.Join(fmt.Sprintf("/proc/%d/root", pid), local)
		if st, err := os.Stat(o.ContextDir); err != nil || !st.IsDir() {
			return errdefs.Invalid("unable to prepare context: %s is not a directory", local)
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			return err
		}
		if len(data) > 0 {
			o.DockerfileData = data
		}
		out.start()
	} else {
		dir, err := os.MkdirTemp(b.TmpDir, "ctx-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		out.start()
		body := bufio.NewReaderSize(r.Body, 64<<10)
		if head, _ := body.Peek(512); !looksLikeArchive(head) {
			// Not a tar: the body is the Dockerfile, and the context is
			// empty (`build - < Dockerfile`), as Docker takes it.
			data, err := io.ReadAll(io.LimitReader(body, 32<<20))
			if err != nil {
				return err
			}
			o.DockerfileData = data
			o.ContextDir = dir
			return b.run(ctx, out, o)
		}
		dr, _, err := archive.Decompress(body)
		if err == nil {
			_, err = archive.Apply(ctx, dir, dr, archive.ApplyOptions{Whiteouts: archive.ApplyWhiteouts, NoDevices: true})
			dr.Close()
		}
		if err != nil {
			out.sendError(fmt.Errorf("reading the build context: %w", err))
			return nil
		}
		o.ContextDir = dir
	}
	return b.run(ctx, out, o)
}

// run runs a build and streams its progress and result.
func (b Build) run(ctx context.Context, out *progressStream, o build.Options) error {
	sw := &streamWriter{s: out}
	o.Out = sw
	res, err := b.B.Build(ctx, o)
	sw.flush()
	if err != nil {
		m := jsonMessage{ErrorMessage: err.Error(), Error: &jsonstream.Error{Message: err.Error()}}
		var se *build.StepError
		if errors.As(err, &se) {
			m.Error.Code = se.Code
		}
		out.send(m)
		return nil
	}
	aux, _ := json.Marshal(buildtypes.Result{ID: res.ID.String()})
	raw := json.RawMessage(aux)
	out.send(jsonMessage{Aux: &raw})
	if o.Quiet {
		out.send(jsonMessage{Stream: res.ID.String() + "\n"})
		return nil
	}
	out.send(jsonMessage{Stream: "Successfully built " + res.ID.Encoded()[:12] + "\n"})
	for _, t := range o.Tags {
		out.send(jsonMessage{Stream: "Successfully tagged " + normalizeTag(t) + "\n"})
	}
	return nil
}

func normalizeTag(t string) string {
	if i := strings.LastIndexByte(t, ':'); i < 0 || strings.Contains(t[i:], "/") {
		return t + ":latest"
	}
	return t
}

func (b Build) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	rep, err := b.B.Prune(ctx)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, buildtypes.CachePruneReport{CachesDeleted: make([]string, 0, rep.Entries), SpaceReclaimed: uint64(rep.SpaceReclaimed)})
}

// streamWriter turns the builder's text into {"stream": ...} messages,
// a line at a time.
type streamWriter struct {
	mu  sync.Mutex
	s   *progressStream
	buf []byte
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.buf = append(sw.buf, p...)
	if i := strings.LastIndexByte(string(sw.buf), '\n'); i >= 0 {
		sw.s.send(jsonMessage{Stream: string(sw.buf[:i+1])})
		sw.buf = append(sw.buf[:0], sw.buf[i+1:]...)
	}
	return len(p), nil
}

func (sw *streamWriter) flush() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if len(sw.buf) > 0 {
		sw.s.send(jsonMessage{Stream: string(sw.buf)})
		sw.buf = nil
	}
}

// looksLikeArchive tells a tar (plain, gzip, bzip2, xz or zstd) from a
// bare Dockerfile.
func looksLikeArchive(h []byte) bool {
	switch {
	case len(h) >= 2 && h[0] == 0x1f && h[1] == 0x8b,
		len(h) >= 3 && string(h[:3]) == "BZh",
		len(h) >= 6 && string(h[:6]) == "\xfd7zXZ\x00",
		len(h) >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd,
		len(h) >= 262 && string(h[257:262]) == "ustar":
		return true
	}
	return len(h) == 0
}
