// Package daemon is `gantry daemon`: it reads the configuration, takes the
// data root's lock, opens the services and serves the Engine API until
// SIGTERM.
package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Config is the daemon's configuration: flags, with daemon.json's keys
// (Docker's names) for what a flag did not set.
type Config struct {
	DataRoot           string                       `json:"data-root"`
	ExecRoot           string                       `json:"exec-root"`
	Hosts              []string                     `json:"hosts"`
	InsecureRegistries []string                     `json:"insecure-registries"`
	LogDriver          string                       `json:"log-driver"`
	LogOpts            map[string]string            `json:"log-opts"`
	DefaultUlimits     map[string]*container.Ulimit `json:"default-ulimits"`
	LiveRestore        *bool                        `json:"live-restore"`
	Debug              bool                         `json:"debug"`
	CgroupParent       string                       `json:"cgroup-parent"`
	Bridge             string                       `json:"bridge"`
	BIP                string                       `json:"bip"`
	AddressPools       []AddressPool                `json:"default-address-pools"`
	LogFile            string                       `json:"-"`
	TLS                TLSConfig                    `json:"-"`
}

// TLSConfig is dockerd's --tls* flags.
type TLSConfig struct {
	Verify            bool
	CACert, Cert, Key string
}

// Defaults are where a root daemon keeps its state.
const (
	DefaultDataRoot = "/var/lib/gantry"
	DefaultExecRoot = "/run/gantry"
	SocketName      = "gantry.sock"
)

var knownKeys = map[string]bool{
	"data-root": true, "exec-root": true, "hosts": true, "insecure-registries": true,
	"log-driver": true, "log-opts": true, "default-ulimits": true, "live-restore": true, "debug": true, "cgroup-parent": true,
	"bridge": true, "bip": true, "default-address-pools": true,
}

// LoadFile fills what the flags left empty from a daemon.json; unknown keys
// are refused as dockerd refuses them.
func LoadFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return errdefs.Invalid("unable to configure the daemon with file %s: %v", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return errdefs.Invalid("unable to configure the daemon with file %s: %v", path, err)
	}
	var unknown []string
	for k := range raw {
		if !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errdefs.Invalid("unable to configure the daemon with file %s: the following directives don't match any configuration option: %s", path, strings.Join(unknown, ", "))
	}
	var file Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&file); err != nil {
		return errdefs.Invalid("unable to configure the daemon with file %s: %v", path, err)
	}
	if cfg.DataRoot == "" {
		cfg.DataRoot = file.DataRoot
	}
	if cfg.ExecRoot == "" {
		cfg.ExecRoot = file.ExecRoot
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = file.Hosts
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, file.InsecureRegistries...)
	if cfg.LogDriver == "" {
		cfg.LogDriver = file.LogDriver
	}
	if cfg.LogOpts == nil {
		cfg.LogOpts = file.LogOpts
	}
	if cfg.DefaultUlimits == nil {
		cfg.DefaultUlimits = file.DefaultUlimits
	}
	if cfg.LiveRestore == nil {
		cfg.LiveRestore = file.LiveRestore
	}
	cfg.Debug = cfg.Debug || file.Debug
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = file.CgroupParent
	}
	if cfg.Bridge == "" {
		cfg.Bridge = file.Bridge
	}
	if cfg.BIP == "" {
		cfg.BIP = file.BIP
	}
	if cfg.AddressPools == nil {
		cfg.AddressPools = file.AddressPools
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.DataRoot == "" {
		c.DataRoot = DefaultDataRoot
	}
	if c.ExecRoot == "" {
		c.ExecRoot = DefaultExecRoot
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"unix://" + c.ExecRoot + "/" + SocketName}
	}
	if c.LogDriver == "" {
		c.LogDriver = "json-file"
	}
	if c.LiveRestore == nil {
		on := true
		c.LiveRestore = &on
	}
}

func (c *Config) ulimits() []*container.Ulimit {
	var out []*container.Ulimit
	for name, u := range c.DefaultUlimits {
		if u.Name == "" {
			u.Name = name
		}
		out = append(out, u)
	}
	return out
}
