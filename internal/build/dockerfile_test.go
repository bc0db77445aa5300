package build

import (
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func TestParseStagesAndErrors(t *testing.T) {
	df, err := Parse(strings.NewReader("ARG V=1\nFROM busybox:${V} AS One\nRUN echo \\\n  hi\nFROM one\nCOPY --from=one /a /b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.MetaArgs) != 1 || len(df.Stages) != 2 || df.Stages[0].Name != "one" {
		t.Fatalf("stages: %+v", df.Stages)
	}
	if got := df.Stages[0].Commands[0].Original; got != "RUN echo   hi" {
		t.Errorf("line continuation: %q", got)
	}
	for src, want := range map[string]string{
		"FROM a\nBOGUS x\n":               "dockerfile parse error on line 2: unknown instruction: BOGUS",
		"RUN x\n":                         "no build stage in current context",
		"FROM a\nCOPY x\n":                "COPY requires at least two arguments",
		"FROM a\nSHELL sh -c\n":           "SHELL requires the arguments to be in JSON form",
		"FROM a\nCOPY --nope=1 a b\n":     "unknown flag: nope",
		"FROM a AS 1x\n":                  "invalid name for build stage",
		"FROM a AS x\nFROM b AS x\n":      "duplicate stage name",
		"# syntax=evil/frontend\nFROM a":  "unsupported frontend",
		"FROM a\nONBUILD ONBUILD RUN x\n": "Chaining ONBUILD",
	} {
		if _, err := Parse(strings.NewReader(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
	if _, err := Parse(strings.NewReader("# syntax=docker/dockerfile:1\nFROM a\n")); err != nil {
		t.Errorf("the standard frontend refused: %v", err)
	}
}

func TestExpansion(t *testing.T) {
	df := &Dockerfile{Escape: '\\'}
	env := []string{"A=x", "B=hello world"}
	for word, want := range map[string]string{
		"$A":          "x",
		"${A}y":       "xy",
		"${C:-def}":   "def",
		"${A:+set}":   "set",
		`'$A'`:        "$A",
		`"$B"`:        "hello world",
		`\$A`:         "$A",
		"${B#hello }": "world",
	} {
		got, err := expandWord(df, word, env)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", word, got, err, want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	base := stepInputs{Text: "RUN make", Args: []string{"A=1"}}
	k := cacheKey("sha256:parent", base)
	same := cacheKey("sha256:parent", stepInputs{Text: "RUN make", Args: []string{"A=1"}})
	if k != same {
		t.Fatal("the same inputs gave two keys")
	}
	for name, in := range map[string]stepInputs{
		"text": {Text: "RUN make all", Args: base.Args},
		"arg":  {Text: base.Text, Args: []string{"A=2"}},
		"sum":  {Text: base.Text, Args: base.Args, Sum: "x"},
		"base": {Text: base.Text, Args: base.Args, Base: "sha256:y"},
	} {
		if cacheKey("sha256:parent", in) == k {
			t.Errorf("a change of %s kept the key", name)
		}
	}
	if cacheKey("sha256:other", base) == k {
		t.Error("another parent kept the key")
	}
	if got := diffFiles(map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1", "b": "3", "c": "4"}); got != "b changed; c added" {
		t.Errorf("diffFiles: %q", got)
	}
	if got := diffArgs([]string{"A=1"}, []string{"A=2", "B=3"}); got != `build arg A changed ("1" → "2"), build arg B set to "3"` {
		t.Errorf("diffArgs: %q", got)
	}
}

func TestApplyChanges(t *testing.T) {
	var cfg dockerspec.DockerOCIImageConfig
	err := ApplyChanges(&cfg, []string{`CMD ["a", "b"]`, "ENV X=1 Y=2", "EXPOSE 80 90-91/udp", "LABEL k=v", "WORKDIR /w", "WORKDIR sub", "USER u", "VOLUME /v", "ENTRYPOINT run me"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Cmd, ",") != "a,b" || strings.Join(cfg.Env, ",") != "X=1,Y=2" || cfg.WorkingDir != "/w/sub" || cfg.User != "u" || cfg.Labels["k"] != "v" {
		t.Errorf("config: %+v", cfg)
	}
	if _, ok := cfg.ExposedPorts["91/udp"]; !ok || len(cfg.ExposedPorts) != 3 {
		t.Errorf("ports: %v", cfg.ExposedPorts)
	}
	if strings.Join(cfg.Entrypoint, "|") != "/bin/sh|-c|run me" {
		t.Errorf("entrypoint: %q", cfg.Entrypoint)
	}
	// Quotes go and variables take the image's values, as in a build.
	if err := ApplyChanges(&cfg, []string{`ENV GREETING="hello there" Z=$X-z`, `LABEL "a b"='c d'`}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Env, ",") != "X=1,Y=2,GREETING=hello there,Z=1-z" || cfg.Labels["a b"] != "c d" {
		t.Errorf("quoted change: env %q labels %q", cfg.Env, cfg.Labels)
	}
	if err := ApplyChanges(&cfg, []string{"RUN x"}); err == nil || !strings.Contains(err.Error(), "RUN is not a valid change command") {
		t.Errorf("RUN change: %v", err)
	}
}
