package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/logger"
)

// Containers is the containers area of the API.
type Containers struct {
	S *enginecontainer.Service
}

func (c Containers) Routes() []Route {
	return []Route{
		{"POST", "/containers/create", c.create},
		{"GET", "/containers/json", c.list},
		{"GET", "/containers/{name}/json", c.inspect},
		{"POST", "/containers/{name}/start", c.start},
		{"POST", "/containers/{name}/stop", c.stop},
		{"POST", "/containers/{name}/restart", c.restart},
		{"POST", "/containers/{name}/kill", c.kill},
		{"POST", "/containers/{name}/pause", c.pause},
		{"POST", "/containers/{name}/unpause", c.unpause},
		{"POST", "/containers/{name}/wait", c.wait},
		{"DELETE", "/containers/{name}", c.remove},
		{"POST", "/containers/{name}/rename", c.rename},
		{"GET", "/containers/{name}/top", c.top},
		{"GET", "/containers/{name}/logs", c.logs},
		{"POST", "/containers/{name}/attach", c.attach},
		{"POST", "/containers/{name}/resize", c.resize},
		{"POST", "/containers/{name}/exec", c.execCreate},
		{"POST", "/exec/{id}/start", c.execStart},
		{"GET", "/exec/{id}/json", c.execInspect},
		{"POST", "/exec/{id}/resize", c.execResize},
	}
}

func notModified(err error) error {
	if errors.Is(err, enginecontainer.ErrNotModified) {
		return NotModified()
	}
	return err
}

func (c Containers) create(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req container.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.Invalid("config cannot be empty in order to create a container")
		}
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	if p := r.FormValue("platform"); p != "" && p != "linux" && p != "linux/amd64" && p != "linux/"+hostArch() {
		return errdefs.Invalid("platform %q is not this machine's (linux/%s)", p, hostArch())
	}
	id, warnings, err := c.S.Create(ctx, enginecontainer.CreateRequest{
		Name: r.FormValue("name"), Config: req.Config, HostConfig: req.HostConfig,
		Networking: req.NetworkingConfig,
	})
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

func (c Containers) list(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	limit, err := IntValue(r, "limit", 0)
	if err != nil {
		return err
	}
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	list, err := c.S.List(ctx, enginecontainer.ListOptions{
		All: BoolValue(r, "all"), Limit: limit, Size: BoolValue(r, "size"), Filters: filters,
	})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, list)
}

func (c Containers) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := c.S.Inspect(ctx, vars["name"], BoolValue(r, "size"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func (c Containers) start(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := notModified(c.S.Start(ctx, vars["name"])); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func stopArgs(r *http.Request) (string, *int, error) {
	var timeout *int
	if t := r.FormValue("t"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return "", nil, errdefs.Invalid("invalid value for t: %q is not a number", t)
		}
		timeout = &n
	}
	return r.FormValue("signal"), timeout, nil
}

func (c Containers) stop(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	sig, timeout, err := stopArgs(r)
	if err != nil {
		return err
	}
	if err := notModified(c.S.Stop(ctx, vars["name"], sig, timeout)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (c Containers) restart(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	sig, timeout, err := stopArgs(r)
	if err != nil {
		return err
	}
	return noContent(w, c.S.Restart(ctx, vars["name"], sig, timeout))
}

func (c Containers) kill(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return noContent(w, c.S.Kill(ctx, vars["name"], r.FormValue("signal")))
}

func (c Containers) pause(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return noContent(w, c.S.Pause(ctx, vars["name"]))
}

func (c Containers) unpause(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return noContent(w, c.S.Unpause(ctx, vars["name"]))
}

func (c Containers) wait(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	ch, err := c.S.Wait(ctx, vars["name"], container.WaitCondition(r.FormValue("condition")))
	if err != nil {
		return err
	}
	// The client learns the wait is in place from the header, before the
	// container is started.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	res := <-ch
	resp := container.WaitResponse{StatusCode: int64(res.ExitCode)}
	if res.Err != nil {
		resp.Error = &container.WaitExitError{Message: res.Err.Error()}
	}
	return json.NewEncoder(w).Encode(resp)
}

func (c Containers) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if BoolValue(r, "link") {
		return errdefs.Invalid("links are not supported")
	}
	return noContent(w, c.S.Remove(ctx, vars["name"], enginecontainer.RemoveOptions{Force: BoolValue(r, "force"), Volumes: BoolValue(r, "v")}))
}

func (c Containers) rename(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return noContent(w, c.S.Rename(ctx, vars["name"], r.FormValue("name")))
}

func (c Containers) top(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := c.S.Top(ctx, vars["name"], r.FormValue("ps_args"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func parseTime(r *http.Request, name string) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" || v == "0" {
		return time.Time{}, nil
	}
	sec, frac, _ := cutDot(v)
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.Invalid("invalid value for %s: %q", name, v)
	}
	var ns int64
	if frac != "" {
		for len(frac) < 9 {
			frac += "0"
		}
		ns, err = strconv.ParseInt(frac[:9], 10, 64)
		if err != nil {
			return time.Time{}, errdefs.Invalid("invalid value for %s: %q", name, v)
		}
	}
	return time.Unix(s, ns), nil
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (c Containers) logs(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	stdout, stderr := BoolValue(r, "stdout"), BoolValue(r, "stderr")
	if !stdout && !stderr {
		return errdefs.Invalid("Bad parameters: you must choose at least one stream")
	}
	since, err := parseTime(r, "since")
	if err != nil {
		return err
	}
	until, err := parseTime(r, "until")
	if err != nil {
		return err
	}
	tail := -1
	if t := r.FormValue("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return errdefs.Invalid("invalid value for tail: %q", t)
		}
		tail = n
	}
	timestamps, details := BoolValue(r, "timestamps"), BoolValue(r, "details")
	started := false
	var flusher http.Flusher
	if f, ok := w.(http.Flusher); ok {
		flusher = f
	}
	follow := BoolValue(r, "follow")
	var tty bool
	header := func() {
		if started {
			return
		}
		started = true
		if tty {
			w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
		} else {
			w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		}
		w.WriteHeader(http.StatusOK)
	}
	var frame []byte
	tty, err = c.S.Logs(ctx, vars["name"], enginecontainer.LogsOptions{
		Stdout: stdout, Stderr: stderr, Since: since, Until: until, Tail: tail, Follow: follow,
	}, func(m logger.Message) error {
		header()
		frame = frame[:0]
		if !tty {
			frame = append(frame, 1, 0, 0, 0, 0, 0, 0, 0)
			if m.Stream == "stderr" {
				frame[0] = 2
			}
		}
		if timestamps {
			frame = m.Time.UTC().AppendFormat(frame, time.RFC3339Nano)
			frame = append(frame, ' ')
		}
		if details {
			frame = appendAttrs(frame, m.Attrs)
		}
		frame = append(frame, m.Line...)
		if !tty {
			binary.BigEndian.PutUint32(frame[4:8], uint32(len(frame)-8))
		}
		if _, err := w.Write(frame); err != nil {
			return err
		}
		if follow && flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err
	}
	header()
	return nil
}

func appendAttrs(b []byte, attrs map[string]string) []byte {
	first := true
	for k, v := range attrs {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
	}
	return append(b, ' ')
}

func (c Containers) attach(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	keys, err := parseDetachKeys(r.FormValue("detachKeys"))
	if err != nil {
		return err
	}
	stdin, stdout, stderr := BoolValue(r, "stdin"), BoolValue(r, "stdout"), BoolValue(r, "stderr")
	if !BoolValue(r, "stream") && !BoolValue(r, "logs") {
		return errdefs.Invalid("Bad parameters: you must choose at least one stream")
	}
	// The attach is in place before the client hears back: the docker
	// CLI starts the container as soon as the attach has answered.
	att, err := c.S.Attach(ctx, vars["name"], stdin, stdout, stderr)
	if err != nil {
		return err
	}
	h, err := hijack(w, r, true)
	if err != nil {
		att.Close()
		return err
	}
	// The attach lives as long as the connection, not the request context.
	st, err := att.Stream(context.Background())
	if err != nil {
		_, _ = h.conn.Write([]byte("Error: " + err.Error() + "\n"))
		h.conn.Close()
		return nil
	}
	h.pipe(st, stdin, keys, nil)
	return nil
}

func (c Containers) resize(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	hgt, err := IntValue(r, "h", 0)
	if err != nil {
		return err
	}
	wid, err := IntValue(r, "w", 0)
	if err != nil {
		return err
	}
	if err := c.S.Resize(ctx, vars["name"], uint16(hgt), uint16(wid)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (c Containers) execCreate(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req container.ExecCreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	id, err := c.S.ExecCreate(ctx, vars["name"], req)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

func (c Containers) execStart(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req container.ExecStartRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	id := vars["id"]
	if req.Detach {
		if _, _, _, err := c.S.ExecStart(context.Background(), id, true, nil); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct{}{})
	}
	insp, err := c.S.ExecInspect(ctx, id)
	if err != nil {
		return err
	}
	// Hijacked before the process starts (see ExecStart's answer).
	var h *hijacked
	var hijackErr error
	st, _, finish, err := c.S.ExecStart(context.Background(), id, false, func(tty bool) error {
		h, hijackErr = hijack(w, r, !tty)
		return hijackErr
	})
	if hijackErr != nil {
		return nil // the connection is gone: nobody to answer
	}
	if err != nil {
		return err
	}
	// The exit is recorded before the client sees the end of the stream:
	// it asks for the exit code right after.
	h.pipe(st, insp.OpenStdin, nil, finish)
	return nil
}

func (c Containers) execInspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := c.S.ExecInspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func (c Containers) execResize(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	hgt, err := IntValue(r, "h", 0)
	if err != nil {
		return err
	}
	wid, err := IntValue(r, "w", 0)
	if err != nil {
		return err
	}
	if err := c.S.ExecResize(ctx, vars["id"], uint16(hgt), uint16(wid)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// noContent answers 204 when the operation succeeded.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
