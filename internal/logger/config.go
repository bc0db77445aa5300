package logger

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// The drivers gantry has.
const (
	JSONFile = "json-file"
	Local    = "local"
	None     = "none"
)

// Config is a container's log configuration (HostConfig.LogConfig).
type Config struct {
	Driver string            // "" means json-file
	Opts   map[string]string // --log-opt

	// Attrs are written with every record. They are not part of
	// HostConfig.LogConfig: the caller resolves json-file's "labels",
	// "labels-regex", "env", "env-regex" (ExtraAttrs) and "tag" options
	// against the container, which this package does not know.
	Attrs map[string]string
}

// options is a validated Config.
type options struct {
	driver   string
	maxSize  int64 // bytes per file; -1 unlimited
	maxFile  int   // files kept, the current one included
	compress bool  // gzip rotated files
}

// Validate checks a config as dockerd does, with gantry's defaults.
func Validate(cfg Config) error {
	_, err := parseConfig(cfg)
	return err
}

// Docker's option keys per driver. Docker's local driver takes only the
// rotation options; labels, env and tag are json-file's.
func allowedOpt(driver, key string) bool {
	switch key {
	case "max-size", "max-file", "compress":
		return true
	case "labels", "labels-regex", "env", "env-regex", "tag":
		return driver == JSONFile
	}
	return false
}

func parseConfig(cfg Config) (options, error) {
	o := options{driver: cfg.Driver}
	switch o.driver {
	case "", JSONFile:
		// gantry's defaults bound the disk a container can fill; Docker's
		// json-file default is one unlimited file.
		o = options{driver: JSONFile, maxSize: 20 << 20, maxFile: 3}
	case Local:
		// Docker's local defaults, compression included.
		o = options{driver: Local, maxSize: 20 << 20, maxFile: 5, compress: true}
	case None:
		// dockerd ignores options for none.
		return o, nil
	default:
		return o, errdefs.Invalid("unknown log driver %q: gantry supports json-file, local and none", cfg.Driver)
	}

	// Sorted so that the error names the same option every time.
	keys := make([]string, 0, len(cfg.Opts))
	for k := range cfg.Opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if allowedOpt(o.driver, k) {
			continue
		}
		if o.driver == JSONFile {
			return o, errdefs.Invalid("unknown log opt '%s' for json-file log driver", k)
		}
		return o, errdefs.Invalid("unknown log opt '%s' for log driver %s", k, o.driver)
	}

	if v, ok := cfg.Opts["max-size"]; ok {
		if v == "-1" {
			o.maxSize = -1
		} else {
			n, err := units.RAMInBytes(v)
			if err != nil {
				return o, errdefs.Invalid("invalid value for max-size: %s: %v", v, err)
			}
			if n <= 0 {
				return o, errdefs.Invalid("max-size must be a positive number")
			}
			o.maxSize = n
		}
	}
	if v, ok := cfg.Opts["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, errdefs.Invalid("invalid value for max-file: %s: %v", v, err)
		}
		if n < 1 {
			return o, errdefs.Invalid("max-file cannot be less than 1")
		}
		o.maxFile = n
	}
	if v, ok := cfg.Opts["compress"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, errdefs.Invalid("invalid boolean value for compress: %v", err)
		}
		if b && (o.maxFile < 2 || o.maxSize < 0) {
			return o, errdefs.Invalid("compress cannot be true when max-file is less than 2 or max-size is not set")
		}
		o.compress = b
	} else if o.maxFile < 2 || o.maxSize < 0 {
		// local compresses by default; with nothing ever rotated there is
		// nothing to compress. (dockerd refuses local with max-file=1
		// unless compress=false is given too; gantry does not make
		// people say it.)
		o.compress = false
	}
	for _, k := range []string{"labels-regex", "env-regex"} {
		if v := cfg.Opts[k]; v != "" {
			if _, err := regexp.Compile(v); err != nil {
				return o, errdefs.Invalid("invalid value for %s: %v", k, err)
			}
		}
	}
	return o, nil
}

// ExtraAttrs resolves json-file's "labels", "labels-regex", "env" and
// "env-regex" options against a container's labels and environment
// ("KEY=value" entries) into the attributes Docker adds to every record.
// The "tag" option is a template over the container and is left to the
// caller.
func ExtraAttrs(cfg Config, labels map[string]string, env []string) (map[string]string, error) {
	extra := map[string]string{}
	if v := cfg.Opts["labels"]; v != "" {
		for _, k := range strings.Split(v, ",") {
			if val, ok := labels[k]; ok {
				extra[k] = val
			}
		}
	}
	if v := cfg.Opts["labels-regex"]; v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, errdefs.Invalid("invalid value for labels-regex: %v", err)
		}
		for k, val := range labels {
			if re.MatchString(k) {
				extra[k] = val
			}
		}
	}
	envMap := make(map[string]string, len(env))
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok {
			envMap[k] = val
		}
	}
	if v := cfg.Opts["env"]; v != "" {
		for _, k := range strings.Split(v, ",") {
			if val, ok := envMap[k]; ok {
				extra[k] = val
			}
		}
	}
	if v := cfg.Opts["env-regex"]; v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, errdefs.Invalid("invalid value for env-regex: %v", err)
		}
		for k, val := range envMap {
			if re.MatchString(k) {
				extra[k] = val
			}
		}
	}
	return extra, nil
}
