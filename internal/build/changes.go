package build

import (
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// changeCommands are the instructions `commit --change` and `import
// --change` take, as Docker's.
var changeCommands = map[string]bool{
	"cmd": true, "entrypoint": true, "env": true, "expose": true, "label": true,
	"onbuild": true, "stopsignal": true, "user": true, "volume": true, "workdir": true,
}

// ApplyChanges applies Dockerfile instructions (`--change`) to a config,
// read by the same parser and code as a build's.
func ApplyChanges(cfg *dockerspec.DockerOCIImageConfig, changes []string) error {
	for _, ch := range changes {
		if strings.TrimSpace(ch) == "" {
			continue
		}
		df, err := Parse(strings.NewReader("FROM scratch\n" + ch))
		if err != nil {
			return errdefs.Invalid("%s", strings.Replace(err.Error(), "on line 2", "on line 1", 1))
		}
		for _, c := range df.Stages[0].Commands {
			if !changeCommands[c.Name] {
				return errdefs.Invalid("dockerfile parse error on line 1: %s is not a valid change command", strings.ToUpper(c.Name))
			}
			// Words are expanded as in a build, with the image's own
			// environment: quotes go, $VARS take its values (Docker's).
			expand := func(w string) (string, error) { return expandWord(df, w, cfg.Env) }
			if err := applyMeta(df, cfg, c, expand); err != nil {
				return err
			}
		}
	}
	return nil
}
