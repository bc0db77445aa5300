package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	registrytypes "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	engineevents "github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/registry"
)

// Images is the images area of the API, with registry login (POST /auth).
type Images struct {
	S      *image.Service
	InUse  image.InUse
	Events *engineevents.Bus // image events; nil publishes none
	Lists  *ListCache        // the last GET /images/json answer; nil keeps none
}

func (i Images) events() imageEvents { return imageEvents{i.Events} }

func (i Images) Routes() []Route {
	return []Route{
		{"GET", "/images/json", i.list},
		{"POST", "/images/create", i.create},
		{"GET", "/images/search", i.search},
		{"GET", "/images/get", i.save},
		{"POST", "/images/load", i.load},
		{"POST", "/images/prune", i.prune},
		{"GET", "/images/{name:.*}/json", i.inspect},
		{"GET", "/images/{name:.*}/history", i.history},
		{"GET", "/images/{name:.*}/get", i.save},
		{"POST", "/images/{name:.*}/push", i.push},
		{"POST", "/images/{name:.*}/tag", i.tag},
		{"DELETE", "/images/{name:.*}", i.remove},
		{"POST", "/auth", i.auth},
	}
}

func (i Images) list(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	var flat []string
	for k, vals := range filters {
		for _, v := range vals {
			flat = append(flat, k+"="+v)
		}
	}
	// Read before listing: a write in between only makes the cached answer
	// newer than its generation, never older.
	gen, err := i.S.Generation(ctx)
	if err != nil {
		return err
	}
	key := r.URL.RawQuery
	body, ok := i.Lists.get(gen, key)
	if !ok {
		list, err := i.S.List(ctx, image.ListOptions{All: BoolValue(r, "all"), Filters: flat})
		if err != nil {
			return err
		}
		if body, err = json.Marshal(list); err != nil {
			return err
		}
		body = append(body, '\n')
		i.Lists.put(gen, key, body)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}

func (i Images) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := i.S.Inspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func (i Images) history(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := i.S.History(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

// tag names an image repo:tag (tag "latest" when not given).
func (i Images) tag(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	ref, err := repoTag(r.FormValue("repo"), r.FormValue("tag"))
	if err != nil {
		return err
	}
	if ref.FamiliarName() == "sha256" {
		return errdefs.Invalid("refusing to create an ambiguous tag using digest algorithm as name")
	}
	if err := i.S.Tag(ctx, vars["name"], ref.String()); err != nil {
		return err
	}
	if img, err := i.S.Resolve(ctx, ref.String()); err == nil {
		i.events().publish(events.ActionTag, img.ID.String(), ref.Familiar())
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// repoTag reads the repo and tag parameters of tag, import and push as
// Docker does: a tag given replaces one in repo, none means "latest".
func repoTag(repo, tag string) (registry.Reference, error) {
	if repo == "" {
		return registry.Reference{}, errdefs.Invalid("repository name is required")
	}
	ref, err := registry.ParseReference(repo)
	if err != nil {
		return registry.Reference{}, err
	}
	if ref.Digest() != "" {
		return registry.Reference{}, errdefs.Invalid("cannot use a digest reference here: %s", repo)
	}
	if tag != "" {
		if ref, err = ref.WithTag(tag); err != nil {
			return registry.Reference{}, err
		}
	}
	return ref, nil
}

// remove is `docker rmi`: an image containers use keeps its last name
// unless forced, and forced it only loses its names.
func (i Images) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	name := vars["name"]
	if strings.TrimSpace(name) == "" {
		return errdefs.Invalid("image name cannot be blank")
	}
	var id string
	if img, err := i.S.Resolve(ctx, name); err == nil {
		id = img.ID.String()
	}
	resp, err := i.S.Remove(ctx, name, BoolValue(r, "force"), i.InUse)
	if err != nil {
		return err
	}
	i.events().removed(id, resp)
	return WriteJSON(w, http.StatusOK, resp)
}

func (i Images) search(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return errdefs.Unavailable("not supported: gantry has no index to search")
}

// create pulls (fromImage) or imports (fromSrc=-, the tar in the body),
// answering with Docker's JSON message stream.
func (i Images) create(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := r.ParseForm(); err != nil {
		return errdefs.Invalid("%v", err)
	}
	var platform *ocispec.Platform
	if p := r.FormValue("platform"); p != "" {
		parsed, err := parsePlatform(p)
		if err != nil {
			return err
		}
		platform = &parsed
	}
	if from := r.FormValue("fromImage"); from != "" {
		return i.pull(ctx, w, r, from, platform)
	}
	if src := r.FormValue("fromSrc"); src != "" {
		return i.importImage(ctx, w, r, src, platform)
	}
	return errdefs.Invalid("fromImage or fromSrc is required")
}

func (i Images) pull(ctx context.Context, w http.ResponseWriter, r *http.Request, from string, platform *ocispec.Platform) error {
	// `pull -a` sends a name with a trailing colon.
	from = strings.TrimSuffix(from, ":")
	if tag := r.FormValue("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			from += "@" + tag
		} else {
			from += ":" + tag
		}
	}
	ref, err := registry.ParseReference(from)
	if err != nil {
		return err
	}
	if ref.FamiliarName() == "scratch" {
		return errdefs.Forbidden("'scratch' is a reserved name")
	}
	creds := requestCredentials(r)
	out := newProgressStream(w)
	res, err := i.S.Pull(ctx, ref.String(), image.PullOptions{
		Platform:    platform,
		Credentials: &creds,
		Progress: func(p image.Progress) {
			if p.ID != "" && strings.HasPrefix(p.Status, "Pulling from ") {
				// Docker says this once the image is found: held
				// back, a pull that fails first answers with an error
				// status, as Docker's does.
				out.hold(jsonMessage{ID: p.ID, Status: p.Status})
				return
			}
			out.progress(p)
		},
	})
	if err != nil {
		return out.fail(err)
	}
	i.events().publish(events.ActionPull, res.Ref.Familiar(), res.Ref.FamiliarName())
	if res.ManifestDigest != "" {
		out.send(jsonMessage{Status: "Digest: " + res.ManifestDigest.String()})
	}
	if res.UpToDate {
		out.send(jsonMessage{Status: "Status: Image is up to date for " + res.Ref.Familiar()})
	} else {
		out.send(jsonMessage{Status: "Status: Downloaded newer image for " + res.Ref.Familiar()})
	}
	return nil
}

// importImage is `docker import`: a root filesystem tar in the body (only
// fromSrc=-: the daemon downloads nothing), named repo[:tag], with the
// changes (Dockerfile instructions) and message given. The answer is the
// image ID as a status message.
func (i Images) importImage(ctx context.Context, w http.ResponseWriter, r *http.Request, src string, platform *ocispec.Platform) error {
	if src != "-" {
		return errdefs.Invalid("importing from %s is not supported: send the archive in the request body (fromSrc=-)", src)
	}
	name := ""
	if repo := r.FormValue("repo"); repo != "" {
		ref, err := repoTag(repo, r.FormValue("tag"))
		if err != nil {
			return err
		}
		name = ref.String()
	}
	id, err := i.S.Import(ctx, r.Body, name, image.ImportOptions{
		Changes:  r.Form["changes"],
		Message:  r.FormValue("message"),
		Platform: platform,
	})
	if err != nil {
		return err
	}
	i.events().publish(events.ActionImport, id.String(), name)
	newProgressStream(w).send(jsonMessage{Status: id.String()})
	return nil
}

// push uploads repo:tag, or every tag of the repository when no tag is
// given (`docker push -a`), with Docker's progress stream, a
// "TAG: digest: D size: N" line and the aux message {Tag, Digest, Size}
// for each tag.
func (i Images) push(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	ref, err := registry.ParseNamed(vars["name"])
	if err != nil {
		return err
	}
	var names []string
	switch tag := r.FormValue("tag"); {
	case tag != "":
		if ref, err = repoTag(vars["name"], tag); err != nil {
			return err
		}
		names = []string{ref.String()}
	case ref.Digest() != "":
		return errdefs.Invalid("cannot push a digest reference")
	case ref.Tag() != "":
		names = []string{ref.String()}
	default:
		if names, err = i.repositoryTags(ctx, ref); err != nil {
			return err
		}
	}
	creds := requestCredentials(r)
	out := newProgressStream(w)
	for n, name := range names {
		res, err := i.S.Push(ctx, name, image.PushOptions{
			Credentials: &creds,
			Progress: func(p image.Progress) {
				if n > 0 && p.ID == "" && strings.HasPrefix(p.Status, "The push refers to repository ") {
					return // said once for all the tags
				}
				out.progress(p)
			},
		})
		if err != nil {
			return out.fail(err)
		}
		i.events().publish(events.ActionPush, res.Ref.Familiar(), res.Ref.FamiliarName())
		out.send(jsonMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", res.Ref.Tag(), res.Digest, res.Size)})
		aux, _ := json.Marshal(pushResult{Tag: res.Ref.Tag(), Digest: res.Digest.String(), Size: res.Size})
		raw := json.RawMessage(aux)
		out.send(jsonMessage{Progress: &jsonstream.Progress{}, Aux: &raw})
	}
	return nil
}

// pushResult is the aux message of a push: Docker's PushResult.
type pushResult struct {
	Tag    string
	Digest string
	Size   int
}

// repositoryTags lists the names of ref's repository that carry a tag.
func (i Images) repositoryTags(ctx context.Context, ref registry.Reference) ([]string, error) {
	list, err := i.S.List(ctx, image.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, img := range list {
		for _, t := range img.RepoTags {
			if r, err := registry.ParseReference(t); err == nil && r.Name() == ref.Name() {
				names = append(names, r.String())
			}
		}
	}
	if len(names) == 0 {
		return nil, errdefs.NotFound("An image does not exist locally with the tag: %s", ref.FamiliarName())
	}
	sort.Strings(names)
	return names, nil
}

// requestCredentials reads X-Registry-Auth (base64url JSON). As Docker
// does, a missing or unreadable header means no credentials: the daemon
// never uses credentials of its own.
func requestCredentials(r *http.Request) registry.Credentials {
	ac, err := authconfig.Decode(r.Header.Get(registrytypes.AuthHeader))
	if err != nil || ac == nil {
		return registry.Credentials{}
	}
	return credentialsOf(*ac)
}

func credentialsOf(ac registrytypes.AuthConfig) registry.Credentials {
	creds := registry.Credentials{
		Username: ac.Username, Password: ac.Password,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	}
	if creds.Username == "" && ac.Auth != "" {
		if raw, err := decodeBase64(ac.Auth); err == nil {
			creds.Username, creds.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	return creds
}

// auth is POST /auth: it checks credentials against a registry and keeps
// nothing (the client stores them), as `docker login` expects.
func (i Images) auth(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var ac registrytypes.AuthConfig
	if err := DecodeJSON(r, &ac); err != nil {
		return err
	}
	creds := credentialsOf(ac)
	if creds.Username == "" || creds.Password == "" {
		return errdefs.Invalid("login needs a username and a password: identity tokens are not supported")
	}
	if err := i.S.Registry().CheckLogin(ctx, ac.ServerAddress, creds.Username, creds.Password); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, registrytypes.AuthResponse{Status: "Login Succeeded"})
}

// save writes Docker's image archive (GET /images/get?names=..., GET
// /images/{name}/get). Unknown names are refused before the archive
// starts; a failure in the middle cuts the connection so that the client
// sees a truncated archive, never a tar with an error appended.
func (i Images) save(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := r.ParseForm(); err != nil {
		return errdefs.Invalid("%v", err)
	}
	names := r.Form["names"]
	if name, ok := vars["name"]; ok {
		names = []string{name}
	}
	if len(names) == 0 {
		return errdefs.Invalid("no image names given")
	}
	for _, n := range names {
		if _, err := i.S.Resolve(ctx, n); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := i.S.Save(ctx, names, w); err != nil {
		panic(http.ErrAbortHandler)
	}
	for _, n := range names {
		if img, err := i.S.Resolve(ctx, n); err == nil {
			i.events().publish(events.ActionSave, img.ID.String(), n)
		}
	}
	return nil
}

// load reads an archive of `save` or `docker save` from the body and
// answers with Docker's stream: "Loaded image: NAME" per name, "Loaded
// image ID: ID" for an image without one, then the error if any.
func (i Images) load(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	loaded, err := i.S.Load(ctx, r.Body)
	out := newProgressStream(w)
	for _, l := range loaded {
		name := ""
		if len(l.Tags) > 0 {
			name = l.Tags[0]
		}
		i.events().publish(events.ActionLoad, l.ID.String(), name)
		if len(l.Tags) == 0 {
			out.send(jsonMessage{Stream: "Loaded image ID: " + l.ID.String() + "\n"})
		}
		for _, t := range l.Tags {
			out.send(jsonMessage{Stream: "Loaded image: " + t + "\n"})
		}
	}
	if err != nil {
		out.sendError(err)
	}
	out.start()
	return nil
}

// prune is POST /images/prune with Docker's filters: dangling (true by
// default; false prunes every unused image), until, label and label!.
func (i Images) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	opts := image.PruneOptions{InUse: i.InUse}
	f, err := parsePruneFilters(filters, func(k, v string) (bool, error) {
		if k != "dangling" {
			return false, nil
		}
		switch strings.ToLower(v) {
		case "true", "1":
			opts.All = false
		case "false", "0":
			opts.All = true
		default:
			return true, errdefs.Invalid("invalid filter 'dangling=%s'", v)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	opts.Until, opts.Labels, opts.NotLabels = f.Until, f.Labels, f.NotLabels
	deleted, reclaimed, err := i.S.Prune(ctx, opts)
	if err != nil {
		return err
	}
	i.events().pruned(deleted, reclaimed)
	return WriteJSON(w, http.StatusOK, mobyimage.PruneReport{ImagesDeleted: deleted, SpaceReclaimed: uint64(max(reclaimed, 0))})
}

// ParseUntil reads an until filter as Docker does: a duration before now
// ("24h", "90m"), an RFC 3339 time or date, or Unix seconds.
func ParseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	var sec, nsec int64
	if n, _ := fmt.Sscanf(v, "%d.%d", &sec, &nsec); n >= 1 && strings.Trim(v, "0123456789.") == "" {
		return time.Unix(sec, nsec), nil
	}
	return time.Time{}, errdefs.Invalid("invalid until %q: give a duration (24h) or a timestamp", v)
}

// parsePlatform reads os/arch[/variant].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, errdefs.Invalid("invalid platform %q: use os/arch[/variant], e.g. linux/amd64", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// jsonMessage is one message of Docker's JSON stream, with the fields of
// Docker's own (moby's jsonmessage.JSONMessage) in its order, including the
// deprecated "progress" and "error" that older clients read.
type jsonMessage struct {
	Stream          string               `json:"stream,omitempty"`
	Status          string               `json:"status,omitempty"`
	Progress        *jsonstream.Progress `json:"progressDetail,omitempty"`
	ProgressMessage string               `json:"progress,omitempty"`
	ID              string               `json:"id,omitempty"`
	Error           *jsonstream.Error    `json:"errorDetail,omitempty"`
	ErrorMessage    string               `json:"error,omitempty"`
	Aux             *json.RawMessage     `json:"aux,omitempty"`
}

// progressStream writes a JSON message stream, flushing each message. The
// status line is only sent with the first message (or start), so that a
// failure before any is the request's error status, as Docker answers. It
// is safe for concurrent use: layers report progress from goroutines.
type progressStream struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	enc     *json.Encoder
	started bool
	held    *jsonMessage
}

func newProgressStream(w http.ResponseWriter) *progressStream {
	return &progressStream{w: w, enc: json.NewEncoder(w)}
}

// start sends the status line if nothing was sent yet.
func (s *progressStream) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
}

func (s *progressStream) startLocked() {
	if s.started {
		return
	}
	s.started = true
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusOK)
}

// hold keeps m to send before the next message.
func (s *progressStream) hold(m jsonMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		s.writeLocked(m)
		return
	}
	s.held = &m
}

func (s *progressStream) send(m jsonMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked(m)
}

func (s *progressStream) writeLocked(m jsonMessage) {
	s.startLocked()
	if s.held != nil {
		_ = s.enc.Encode(s.held)
		s.held = nil
	}
	_ = s.enc.Encode(m)
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// progress sends a pull's or push's step as Docker does: a line of the
// whole ("Digest: ...") as a status; a layer's step with its ID and
// progress detail, empty but for the steps that move bytes (clients show
// those as bars, and leave them out when not on a terminal).
func (s *progressStream) progress(p image.Progress) {
	if p.ID == "" {
		s.send(jsonMessage{Status: p.Status})
		return
	}
	m := jsonMessage{ID: p.ID, Status: p.Status, Progress: &jsonstream.Progress{}}
	if counted := p.Status == "Downloading" || p.Status == "Extracting" || p.Status == "Pushing"; counted && (p.Current > 0 || p.Total > 0) {
		m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
		m.ProgressMessage = progressBar(p.Current, p.Total)
	}
	s.send(m)
}

// sendError ends the stream with err as Docker's error message.
func (s *progressStream) sendError(err error) {
	s.send(jsonMessage{Error: &jsonstream.Error{Message: err.Error()}, ErrorMessage: err.Error()})
}

// fail reports err: as the request's status when nothing was sent, else as
// the stream's last message.
func (s *progressStream) fail(err error) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return err
	}
	s.sendError(err)
	return nil
}

// progressBar is the "progress" text Docker's daemon sends along with the
// detail: "[=====>     ]  1.2MB/2.15MB".
func progressBar(cur, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%8v", units.HumanSize(float64(cur)))
	}
	pct := int(float64(cur)/float64(total)*100) / 2
	pct = min(pct, 50)
	bar := fmt.Sprintf("[%s>%s] ", strings.Repeat("=", pct), strings.Repeat(" ", max(50-pct, 0)))
	numbers := fmt.Sprintf("%8v/%v", units.HumanSize(float64(cur)), units.HumanSize(float64(total)))
	if cur > total {
		numbers = fmt.Sprintf("%8v", units.HumanSize(float64(cur)))
	}
	return bar + numbers
}

// decodeBase64 reads the "auth" field of an auth config (user:password).
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}
