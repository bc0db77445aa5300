package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/clicontext"
)

const (
	// defaultHost is where `gantry daemon` listens unless told otherwise.
	defaultHost = "unix:///run/gantry/gantry.sock"
	// daemonLog receives the standard error of a daemon the CLI started.
	daemonLog = "/var/log/gantry.log"
	// daemonStartTimeout bounds the wait for a daemon the CLI started.
	daemonStartTimeout = 10 * time.Second
)

// apiClient is the Engine API client and the address it talks to.
type apiClient struct {
	*apiclient.Client
	host string
}

// hostOf chooses the daemon's address as the docker CLI does: -H/--host,
// else the --context flag's context, else GANTRY_HOST, else DOCKER_HOST,
// else the context DOCKER_CONTEXT or config.json's currentContext names,
// else the default socket. isDefault says it was the default.
func hostOf(cmd *cobra.Command) (host string, isDefault bool, err error) {
	flags := cmd.Root().Flags()
	if f := flags.Lookup("host"); f != nil && f.Value.String() != "" {
		return f.Value.String(), false, nil
	}
	store := clicontext.Open("")
	if f := flags.Lookup("context"); f != nil && f.Value.String() != "" {
		return contextHost(store, f.Value.String())
	}
	host, isDefault = hostFromEnvironment(store)
	if !isDefault {
		return host, false, nil
	}
	if name := os.Getenv("DOCKER_CONTEXT"); name != "" {
		return contextHost(store, name)
	}
	if name, err := store.Current(); err == nil && name != "" {
		return contextHost(store, name)
	}
	return defaultHost, true, nil
}

// hostFromEnvironment is GANTRY_HOST, else DOCKER_HOST, else the default
// socket (isDefault).
func hostFromEnvironment(*clicontext.Store) (host string, isDefault bool) {
	for _, env := range []string{"GANTRY_HOST", "DOCKER_HOST"} {
		if v := os.Getenv(env); v != "" {
			return v, false
		}
	}
	return defaultHost, true
}

// contextHost is the address of a named context; "default" is the default
// socket.
func contextHost(store *clicontext.Store, name string) (string, bool, error) {
	if name == clicontext.DefaultName {
		return defaultHost, true, nil
	}
	c, err := store.Get(name)
	if err != nil {
		return "", false, fmt.Errorf("failed to use context %q: %w", name, err)
	}
	if c.Host() == "" {
		return defaultHost, true, nil
	}
	return c.Host(), c.Host() == defaultHost, nil
}

// currentContextName is the context in effect, as `context show` prints it.
func currentContextName(cmd *cobra.Command, store *clicontext.Store) string {
	if f := cmd.Root().Flags().Lookup("context"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if _, isDefault := hostFromEnvironment(store); !isDefault {
		return clicontext.DefaultName
	}
	if name := os.Getenv("DOCKER_CONTEXT"); name != "" {
		return name
	}
	if name, err := store.Current(); err == nil && name != "" {
		return name
	}
	return clicontext.DefaultName
}

// newAPIClient connects to the daemon. With the default socket absent (or
// refusing) and running as root, it starts the daemon first and says so on
// one line.
func newAPIClient(ctx context.Context, cmd *cobra.Command) (*apiClient, error) {
	host, isDefault, err := hostOf(cmd)
	if err != nil {
		return nil, err
	}
	opts := []apiclient.Opt{apiclient.WithHost(host), apiclient.WithUserAgent("gantry/" + Version)}
	// The version is negotiated (a HEAD /_ping before the first request:
	// 0.08 ms on a local socket, against 24 ms to start the process), so
	// that any Docker daemon answers too; DOCKER_API_VERSION fixes it, as
	// for the docker CLI.
	if v := os.Getenv("DOCKER_API_VERSION"); v != "" {
		opts = append(opts, apiclient.WithAPIVersion(v))
	}
	if isDefault {
		// Dial once now: the connection tells whether the daemon runs, and
		// then carries the command's first request.
		path := strings.TrimPrefix(defaultHost, "unix://")
		d := &firstConnDialer{path: path}
		conn, err := d.dial(ctx)
		if err != nil && os.Geteuid() == 0 && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)) {
			conn, err = startDaemon(ctx, path, cmd.ErrOrStderr())
			if err != nil {
				return nil, err
			}
		}
		if err == nil {
			d.conn = conn
		}
		// With no connection, the first request fails and is reported as
		// any unreachable daemon is.
		opts = append(opts, apiclient.WithDialContext(d.DialContext))
	}
	c, err := apiclient.New(opts...)
	if err != nil {
		return nil, err
	}
	return &apiClient{Client: c, host: host}, nil
}

// firstConnDialer hands out a connection made in advance, then dials.
type firstConnDialer struct {
	path string
	mu   sync.Mutex
	conn net.Conn
}

func (d *firstConnDialer) dial(ctx context.Context) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, "unix", d.path)
}

func (d *firstConnDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	d.mu.Lock()
	c := d.conn
	d.conn = nil
	d.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return d.dial(ctx)
}

// startDaemon runs `gantry daemon` detached from this process and waits
// until its socket answers /_ping. Concurrent CLIs serialise on a lock so
// that only one of them starts it.
func startDaemon(ctx context.Context, socket string, stderr io.Writer) (net.Conn, error) {
	dir := filepath.Dir(socket)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "cli-start.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	// Another CLI may have started it while this one waited for the lock.
	if pingSocket(ctx, socket) == nil {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	logFile, err := os.OpenFile(daemonLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	defer logFile.Close()
	daemon := exec.Command(self, "daemon")
	daemon.Stdin, daemon.Stdout, daemon.Stderr = nil, nil, logFile // nil is /dev/null
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	daemon.Dir = "/"
	if err := daemon.Start(); err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	fmt.Fprintf(stderr, "gantry: the daemon was not running; started it (log: %s)\n", daemonLog)
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	deadline := time.Now().Add(daemonStartTimeout)
	for delay := 2 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		if pingSocket(ctx, socket) == nil {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the daemon exited at start (%v): see %s", err, daemonLog)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the daemon did not answer on %s within %s: see %s", socket, daemonStartTimeout, daemonLog)
		}
	}
}

// pingSocket checks that the socket answers GET /_ping.
func pingSocket(ctx context.Context, socket string) error {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "unix", socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "GET /_ping HTTP/1.1\r\nHost: gantry\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

// connError rewrites a failure to reach the daemon as one line naming
// gantry; ok is false for other errors.
func connError(err error, host string) (line string, ok bool) {
	if err == nil {
		return "", false
	}
	if errors.Is(err, os.ErrPermission) && (apiclient.IsErrConnectionFailed(err) || isDialError(err)) {
		return fmt.Sprintf("permission denied while trying to connect to the gantry daemon socket at %s", host), true
	}
	if apiclient.IsErrConnectionFailed(err) || isDialError(err) {
		line := fmt.Sprintf("Cannot connect to the gantry daemon at %s. Is the gantry daemon running?", host)
		if os.Geteuid() != 0 && host == defaultHost {
			// Only root starts it on demand: say why it was not.
			line += " (the CLI starts it on demand only as root; rootless mode is not supported yet: run as root or with sudo)"
		}
		return line, true
	}
	return "", false
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.Is(err, syscall.ENOENT) && strings.Contains(err.Error(), "dial"))
}
