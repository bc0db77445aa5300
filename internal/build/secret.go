package build

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// SecretsHeader carries a build's secrets from gantry's CLI to its daemon
// (base64 of a JSON object, id → bytes). Docker's classic build protocol
// has no way to pass them; a header keeps them out of the URL, which the
// daemon may log.
const SecretsHeader = "X-Gantry-Build-Secrets"

// MaxSecretSize is BuildKit's limit for one secret.
const MaxSecretSize = 500 << 10

// EncodeSecrets is the SecretsHeader value for secrets.
func EncodeSecrets(secrets map[string][]byte) (string, error) {
	raw, err := json.Marshal(secrets)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// DecodeSecrets reads a SecretsHeader value ("" gives none).
func DecodeSecrets(v string) (map[string][]byte, error) {
	if v == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, errdefs.Invalid("invalid %s header: %v", SecretsHeader, err)
	}
	var out map[string][]byte
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, errdefs.Invalid("invalid %s header: %v", SecretsHeader, err)
	}
	for id, b := range out {
		if len(b) > MaxSecretSize {
			return nil, errdefs.Invalid("secret %s is too big: %d bytes, at most %d", id, len(b), MaxSecretSize)
		}
	}
	return out, nil
}

// secretMount prepares RUN --mount=type=secret: the secret as a file on a
// tmpfs of the step's own (never on disk, never in a layer: its mount
// point is removed from the layer, and the secret is no part of the cache
// key), bound read-only at target (/run/secrets/<id> by default), and/or
// as the environment variable env=. A secret the build was not given is
// an error when required, else the mount is left out, as BuildKit does.
func (r *buildRun) secretMount(st *stageState, c *Command, m *runMounts, opts map[string]string, target string) error {
	id := opts["id"]
	if id == "" && target != "" {
		id = path.Base(target)
	}
	if id == "" {
		return errdefs.Invalid("dockerfile line %d: RUN --mount=type=secret needs an id (or a target)", c.Line)
	}
	envName := opts["env"]
	if target == "" && envName == "" {
		target = "/run/secrets/" + id
	}
	data, ok := r.o.Secrets[id]
	if !ok {
		if boolOpt(opts, "required") {
			return errdefs.Invalid("dockerfile line %d: secret %s not found: give it with `gantry build --secret id=%s,src=FILE` (or env=VAR); the docker CLI's classic builder cannot pass secrets", c.Line, id, id)
		}
		fmt.Fprintf(st.out, " ---> secret %s not given: not mounted\n", id)
		return nil
	}
	if envName != "" {
		m.env = append(m.env, envName+"="+string(data))
	}
	if target == "" {
		return nil
	}
	mode := uint64(0o400)
	if v := opts["mode"]; v != "" {
		var err error
		if mode, err = strconv.ParseUint(v, 8, 32); err != nil || mode > 0o7777 {
			return errdefs.Invalid("dockerfile line %d: invalid mode %q for secret %s", c.Line, v, id)
		}
	}
	uid, err := intOpt(opts, "uid")
	if err != nil {
		return errdefs.Invalid("dockerfile line %d: secret %s: %v", c.Line, id, err)
	}
	gid, err := intOpt(opts, "gid")
	if err != nil {
		return errdefs.Invalid("dockerfile line %d: secret %s: %v", c.Line, id, err)
	}
	dir, err := r.stagingDir(m, "secret-")
	if err != nil {
		return err
	}
	fsDir := filepath.Join(dir, "tmpfs")
	if err := os.Mkdir(fsDir, 0o700); err != nil {
		return err
	}
	size := (len(data)/4096 + 2) * 4096
	if err := unix.Mount("tmpfs", fsDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=0700,size=%d", size)); err != nil {
		return fmt.Errorf("mounting a tmpfs for secret %s: %w", id, err)
	}
	m.undo = append(m.undo, func() { _ = unix.Unmount(fsDir, unix.MNT_DETACH) })
	file := filepath.Join(fsDir, "secret")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return err
	}
	if err := os.Chown(file, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(file, os.FileMode(mode)); err != nil {
		return err
	}
	m.binds = append(m.binds, file+":"+target+":ro")
	m.targets = append(m.targets, target)
	return nil
}

func intOpt(opts map[string]string, key string) (int, error) {
	v := opts[key]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q", key, v)
	}
	return n, nil
}
