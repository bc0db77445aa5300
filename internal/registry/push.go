package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushBlob is one blob of an image to push.
type PushBlob struct {
	Desc ocispec.Descriptor
	// Sources are other repositories of any registry (full names like
	// "127.0.0.1:5000/other/app") known to hold the blob; those on the
	// target's registry are tried for a cross-repository mount.
	Sources []string
	// Open gives the blob's content, exactly Desc.Size bytes. It is called
	// only when the blob must be uploaded, possibly twice (one retry).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// PushRequest is an image to push: its blobs, then its manifest.
type PushRequest struct {
	Ref Reference
	// Config is pushed silently, as Docker does; a zero Desc.Digest means
	// there is none (pushing an index whose manifests are already there).
	Config    PushBlob
	Layers    []PushBlob
	Manifest  []byte // the exact manifest bytes to PUT
	MediaType string
	Jobs      int                 // parallel uploads, default 3
	Progress  func(ProgressEvent) // may be nil; called from several goroutines
}

// ProgressEvent reports a layer's state during a push.
type ProgressEvent struct {
	Digest digest.Digest
	// Action is "Preparing", "Waiting", "Pushing", "Pushed",
	// "Layer already exists" or "Mounted from REPO" (REPO as
	// Reference.Path).
	Action         string
	Current, Total int64
}

// Progress actions.
const (
	ActionPreparing     = "Preparing"
	ActionWaiting       = "Waiting"
	ActionPushing       = "Pushing"
	ActionPushed        = "Pushed"
	ActionAlreadyExists = "Layer already exists"
	ActionMountedFrom   = "Mounted from " // followed by the repository
)

// maxMountAttempts bounds the mount candidates tried per blob, as Docker does.
const maxMountAttempts = 3

// progressInterval spaces "Pushing" events.
const progressInterval = 100 * time.Millisecond

// Push writes an image: config and layers, then the manifest, to req.Ref.
// Blobs the repository has are skipped (HEAD), blobs in another repository
// of the same registry are mounted, the rest uploaded in parallel. It
// returns the manifest's digest.
func (c *Client) Push(ctx context.Context, req PushRequest) (digest.Digest, error) {
	ref := req.Ref
	if err := ref.check(); err != nil {
		return "", err
	}
	if len(req.Manifest) == 0 || req.MediaType == "" {
		return "", errdefs.Invalid("push %s: manifest and its media type are required", ref.Familiar())
	}
	mdgst := digest.FromBytes(req.Manifest)
	if d := ref.Digest(); d != "" && d.Algorithm().FromBytes(req.Manifest) != d {
		return "", errdefs.Invalid("push %s: manifest digest is %s", ref.Familiar(), mdgst)
	}

	o := op{action: "push", ref: ref, domain: ref.Domain()}
	var work []pushJob
	seen := map[digest.Digest]bool{}
	scopes := []string{pushScope(ref.Path())}
	scoped := map[string]bool{}
	add := func(b PushBlob, report bool) error {
		if err := b.Desc.Digest.Validate(); err != nil {
			return errdefs.Invalid("push %s: blob digest %q: %v", ref.Familiar(), b.Desc.Digest, err)
		}
		if b.Desc.Size < 0 || b.Open == nil {
			return errdefs.Invalid("push %s: blob %s has no size or content", ref.Familiar(), b.Desc.Digest)
		}
		if seen[b.Desc.Digest] {
			return nil
		}
		seen[b.Desc.Digest] = true
		j := pushJob{blob: b, report: report}
		for _, s := range b.Sources {
			src, err := ParseNamed(s)
			if err != nil || src.Domain() != ref.Domain() || src.Path() == ref.Path() || len(j.mounts) == maxMountAttempts {
				continue
			}
			j.mounts = append(j.mounts, src.Path())
			if !scoped[src.Path()] {
				scoped[src.Path()] = true
				scopes = append(scopes, pullScope(src.Path()))
			}
		}
		work = append(work, j)
		return nil
	}
	if req.Config.Desc.Digest != "" {
		if err := add(req.Config, false); err != nil {
			return "", err
		}
	}
	for _, l := range req.Layers {
		if err := add(l, true); err != nil {
			return "", err
		}
	}

	rt, err := c.transport(ctx, ref.Domain(), scopes)
	if err != nil {
		return "", o.fail(err)
	}
	p := &pusher{c: c, o: o, hc: &http.Client{Transport: rt}, progress: req.Progress}
	for _, action := range []string{ActionPreparing, ActionWaiting} {
		for _, j := range work {
			p.emit(j, action, 0)
		}
	}
	jobs := req.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	if err := p.run(ctx, work, jobs); err != nil {
		return "", err
	}
	if err := p.putManifest(ctx, req, mdgst); err != nil {
		return "", err
	}
	return mdgst, nil
}

type pushJob struct {
	blob   PushBlob
	report bool     // progress events for it (layers, not the config)
	mounts []string // repository paths on the same registry to mount from
}

type pusher struct {
	c        *Client
	o        op
	hc       *http.Client
	progress func(ProgressEvent)
	// chunked is set once the registry refused a monolithic PUT; the rest
	// of the push then streams with PATCH as Docker does.
	chunked atomic.Bool
}

func (p *pusher) emit(j pushJob, action string, current int64) {
	if p.progress == nil || !j.report {
		return
	}
	p.progress(ProgressEvent{Digest: j.blob.Desc.Digest, Action: action, Current: current, Total: j.blob.Desc.Size})
}

// run pushes work with n workers; the first failure cancels the rest.
func (p *pusher) run(ctx context.Context, work []pushJob, n int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	queue := make(chan pushJob)
	for range min(n, len(work)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if err := p.pushBlob(ctx, j); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, j := range work {
		select {
		case queue <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (p *pusher) blobsURL(suffix string) string {
	return p.c.v2URL(p.o.domain, p.o.ref.Path()+"/blobs/"+suffix)
}

func (p *pusher) pushBlob(ctx context.Context, j pushJob) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d := j.blob.Desc
	_, found, err := headBlob(ctx, p.hc, p.blobsURL(d.Digest.String()))
	if err != nil {
		return p.o.fail(err)
	}
	if found {
		p.emit(j, ActionAlreadyExists, d.Size)
		return nil
	}

	var session *url.URL
	for _, from := range j.mounts {
		mounted, loc, err := p.mount(ctx, d.Digest, from)
		if err != nil {
			return p.o.fail(err)
		}
		if mounted {
			p.emit(j, ActionMountedFrom+from, d.Size)
			return nil
		}
		if loc != nil {
			// The registry could not mount and opened an upload instead.
			session = loc
			break
		}
	}

	for attempt := 0; ; attempt++ {
		chunked := p.chunked.Load()
		err := p.upload(ctx, j, session, chunked)
		if err == nil {
			p.emit(j, ActionPushed, d.Size)
			return nil
		}
		if attempt > 0 || ctx.Err() != nil {
			return p.o.fail(err)
		}
		if !chunked && refusesMonolithic(err) {
			p.chunked.Store(true)
		} else if !retryable(err) {
			return p.o.fail(err)
		}
		session = nil
	}
}

// mount asks the registry to link blob d from repository from: true when it
// did; else the upload session it may have opened instead.
func (p *pusher) mount(ctx context.Context, d digest.Digest, from string) (bool, *url.URL, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.blobsURL("uploads/")+"?"+q.Encode(), nil)
	if err != nil {
		return false, nil, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return false, nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil, nil
	case http.StatusAccepted:
		loc, err := resolveLocation(req.URL, resp.Header.Get("Location"))
		if err != nil {
			return false, nil, nil
		}
		return false, loc, nil
	}
	// Refused mounts (no access to the source, say) fall back to uploading.
	return false, nil, nil
}

// upload sends one blob: POST for a session (unless one is given), then a
// PUT with the whole content and the digest; one round trip fewer than
// Docker's POST, PATCH, PUT, which chunked selects for registries that do
// not take a body on the PUT.
func (p *pusher) upload(ctx context.Context, j pushJob, session *url.URL, chunked bool) error {
	d := j.blob.Desc
	if session == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.blobsURL("uploads/"), nil)
		if err != nil {
			return err
		}
		if session, err = p.sessionStep(req, http.StatusAccepted); err != nil {
			return err
		}
	}

	var body io.Reader = http.NoBody
	var ub *uploadBody
	if d.Size > 0 {
		rc, err := j.blob.Open(ctx)
		if err != nil {
			return fmt.Errorf("opening blob %s: %w", d.Digest, err)
		}
		ub = &uploadBody{rc: rc, size: d.Size, digest: d.Digest}
		if p.progress != nil && j.report {
			ub.progress = func(n int64) { p.emit(j, ActionPushing, n) }
		}
		defer ub.Close()
		body = ub
	}
	bodyErr := func(err error) error {
		if ub != nil {
			if berr := ub.failure(); berr != nil {
				return berr
			}
		}
		return err
	}

	if chunked && ub != nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPatch, session.String(), body)
		if err != nil {
			return err
		}
		req.ContentLength = d.Size
		req.Header.Set("Content-Type", "application/octet-stream")
		if session, err = p.sessionStep(req, http.StatusAccepted, http.StatusNoContent); err != nil {
			return bodyErr(err)
		}
		body = http.NoBody
	}

	u := *session
	q := u.Query()
	q.Set("digest", d.Digest.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	if body != http.NoBody {
		req.ContentLength = d.Size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return bodyErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := readStatusError(resp)
		if se.status == http.StatusBadRequest && (se.code == "DIGEST_INVALID" || se.code == "SIZE_INVALID") {
			return errdefs.Invalid("push %s: registry rejected blob %s: %s", p.o.ref.Familiar(), d.Digest, se.detail())
		}
		return se
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != d.Digest.String() {
		if hd, err := digest.Parse(h); err == nil && hd.Algorithm() == d.Digest.Algorithm() {
			return errdefs.Invalid("push %s: registry stored blob %s as %s", p.o.ref.Familiar(), d.Digest, hd)
		}
	}
	return nil
}

// refusesMonolithic reports a registry answering a PUT with a body as one
// that does not support it (rather than a failure of the content).
func refusesMonolithic(err error) bool {
	se, ok := asStatusError(err)
	if !ok {
		return false
	}
	switch se.status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented:
		return true
	}
	return false
}

// sessionStep sends one request of an upload and returns where the next one
// goes (the Location header, which may carry the registry's state).
func (p *pusher) sessionStep(req *http.Request, ok ...int) (*url.URL, error) {
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !slices.Contains(ok, resp.StatusCode) {
		return nil, readStatusError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	loc, err := resolveLocation(req.URL, resp.Header.Get("Location"))
	if err != nil {
		return nil, errdefs.Invalid("push %s: %v", p.o.ref.Familiar(), err)
	}
	return loc, nil
}

// retryable reports failures worth a second upload attempt: the network,
// the registry's own trouble, an expired token.
func retryable(err error) bool {
	if isClassed(err) || isContextError(err) {
		return false
	}
	if se, ok := asStatusError(err); ok {
		return se.status >= 500 || se.status == http.StatusUnauthorized || se.status == http.StatusRequestTimeout
	}
	return true
}

// uploadBody streams a blob into a PUT, reporting progress and checking that
// the content is as long as its descriptor says.
type uploadBody struct {
	rc       io.ReadCloser
	size     int64
	digest   digest.Digest
	progress func(int64)

	mu     sync.Mutex // the transport may read and close from its own goroutine
	n      int64
	last   time.Time
	err    error
	closed bool
}

func (b *uploadBody) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	switch {
	case err == io.EOF && b.n < b.size:
		b.err = errdefs.Invalid("blob %s: content ended after %d of %d bytes", b.digest, b.n, b.size)
		err = b.err
	case err != nil && err != io.EOF:
		b.err = fmt.Errorf("reading blob %s: %w", b.digest, err)
		err = b.err
	}
	if b.progress != nil {
		if now := time.Now(); now.Sub(b.last) >= progressInterval || b.n >= b.size {
			b.last = now
			b.progress(b.n)
		}
	}
	return n, err
}

func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.rc.Close()
}

func (b *uploadBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// putManifest PUTs the manifest under the reference's tag (or digest).
func (p *pusher) putManifest(ctx context.Context, req PushRequest, mdgst digest.Digest) error {
	target := req.Ref.Tag()
	if target == "" {
		target = mdgst.String()
	}
	u := p.c.v2URL(p.o.domain, p.o.ref.Path()+"/manifests/"+target)
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = p.putManifestOnce(ctx, u, req, mdgst); err == nil || ctx.Err() != nil || !retryable(err) {
			break
		}
	}
	if err == nil {
		return nil
	}
	if se, ok := asStatusError(err); ok && se.status >= 400 && se.status < 500 &&
		se.status != http.StatusUnauthorized && se.status != http.StatusForbidden && se.status != http.StatusTooManyRequests {
		return errdefs.Invalid("push %s: registry rejected the manifest: %s", req.Ref.Familiar(), orStatus(se))
	}
	return p.o.fail(err)
}

func (p *pusher) putManifestOnce(ctx context.Context, u string, req PushRequest, mdgst digest.Digest) error {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(req.Manifest))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", req.MediaType)
	resp, err := p.hc.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readStatusError(resp)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != mdgst.String() {
		if hd, err := digest.Parse(h); err == nil && hd.Algorithm() == mdgst.Algorithm() {
			return errdefs.Invalid("push %s: registry stored the manifest as %s, not %s", req.Ref.Familiar(), hd, mdgst)
		}
	}
	return nil
}
