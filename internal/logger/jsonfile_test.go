package logger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Lines as dockerd wrote them (copied from real json-file logs), and one
// with attributes as dockerd writes them with --log-opt labels=.
var dockerLines = []struct {
	line string
	want Message
}{
	{
		`{"log":"standard_init_linux.go:211: exec user process caused \"permission denied\"\n","stream":"stderr","time":"2020-07-21T13:31:12.681426353Z"}`,
		Message{Stream: "stderr", Line: []byte("standard_init_linux.go:211: exec user process caused \"permission denied\"\n"), Time: time.Date(2020, 7, 21, 13, 31, 12, 681426353, time.UTC)},
	},
	{
		`{"log":"++ id -u\n","stream":"stderr","time":"2018-03-09T03:17:06.739189441Z"}`,
		Message{Stream: "stderr", Line: []byte("++ id -u\n"), Time: time.Date(2018, 3, 9, 3, 17, 6, 739189441, time.UTC)},
	},
	{
		`{"log":"log message\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"}`,
		Message{Stream: "stderr", Line: []byte("log message\n"), Time: time.Date(2019, 4, 30, 2, 12, 41, 844351500, time.UTC)},
	},
	{
		`{"log":"\u003chtml\u003e \u0026 tab\u0009end\r\n","stream":"stdout","attrs":{"com.example.team":"web"},"time":"2026-11-27T10:00:00.12345678Z"}`,
		Message{Stream: "stdout", Line: []byte("<html> & tab\tend\r\n"), Time: time.Date(2026, 11, 27, 10, 0, 0, 123456780, time.UTC), Attrs: map[string]string{"com.example.team": "web"}},
	},
	{
		`{"log":"partial without newline","stream":"stdout","time":"2026-11-27T10:00:00Z"}`,
		Message{Stream: "stdout", Line: []byte("partial without newline"), Partial: true, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
	},
}

func TestJSONDockerLines(t *testing.T) {
	f := jsonFormat{}
	for _, tc := range dockerLines {
		var m Message
		if err := f.decode([]byte(tc.line+"\n"), &m); err != nil {
			t.Fatalf("decode %s: %v", tc.line, err)
		}
		if diff := cmp.Diff(tc.want, m); diff != "" {
			t.Errorf("decode %s (-want +got):\n%s", tc.line, diff)
		}
		// And back, byte for byte.
		attrs, err := f.encodeAttrs(m.Attrs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.appendRecord(nil, &m, false, attrs)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.line+"\n" {
			t.Errorf("encode:\n got %s\nwant %s", got, tc.line)
		}
	}
}

func TestJSONEncode(t *testing.T) {
	tm := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		m    Message
		nl   bool
		want string
	}{
		{"plain", Message{Stream: "stdout", Line: []byte("hello\n")}, false, `{"log":"hello\n","stream":"stdout","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"newline added", Message{Stream: "stdout", Line: []byte("hello")}, true, `{"log":"hello\n","stream":"stdout","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"html", Message{Stream: "stderr", Line: []byte("<a href=\"x\">&</a>\n")}, false, `{"log":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\n","stream":"stderr","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"controls", Message{Stream: "stdout", Line: []byte("\x00\x01\t\b\f\x1f\x7f\\\r\n")}, false, `{"log":"\u0000\u0001\u0009\u0008\u000c\u001f` + "\x7f" + `\\\r\n","stream":"stdout","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"invalid utf-8", Message{Stream: "stdout", Line: []byte("a\xffb\xe2\x82c\n")}, false, `{"log":"a\ufffdb\ufffd\ufffdc\n","stream":"stdout","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"separators", Message{Stream: "stdout", Line: []byte("x\u2028y\u2029z é 😀\n")}, false, `{"log":"x\u2028y\u2029z é 😀\n","stream":"stdout","time":"2026-11-27T09:00:00.123456789Z"}`},
		{"empty", Message{}, false, `{"time":"2026-11-27T09:00:00.123456789Z"}`},
		{"no stream", Message{Line: []byte("x")}, false, `{"log":"x","time":"2026-11-27T09:00:00.123456789Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Time = tm
			got, err := jsonFormat{}.appendRecord(nil, &tc.m, tc.nl, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			// Whatever we write, encoding/json reads as valid JSON.
			var v map[string]any
			if err := json.Unmarshal(got, &v); err != nil {
				t.Errorf("not JSON: %v", err)
			}
		})
	}
	if _, err := (jsonFormat{}).appendRecord(nil, &Message{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false, nil); err == nil {
		t.Error("year 10000 encoded")
	}
}

// randomBytes makes strings heavy in what escaping and decoding get wrong.
func randomBytes(r *rand.Rand) []byte {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\x00", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xe2\x82", "\xed\xa0\x80", "\\u0041", "{", "}", ",", ":"}
	var b []byte
	for range r.IntN(40) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return b
}

// TestJSONAgainstEncodingJSON checks our encoder's output against
// encoding/json's decoding and our decoder against encoding/json's on the
// same text, including text encoding/json wrote.
func TestJSONAgainstEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tm := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for range 5000 {
		line := randomBytes(r)
		m := Message{Stream: string(randomBytes(r)), Line: line, Time: tm, Attrs: map[string]string{string(randomBytes(r)): string(randomBytes(r))}}
		attrs, err := jsonFormat{}.encodeAttrs(m.Attrs)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := jsonFormat{}.appendRecord(nil, &m, false, attrs)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(rec, []byte{'\n'}) != 1 {
			t.Fatalf("record %q holds a raw newline", rec)
		}
		checkDecode(t, rec)

		// Text from encoding/json (other escapes: \t, \u00e9 never, \/ never).
		std, err := json.Marshal(map[string]any{"log": string(line), "stream": "stdout", "time": tm, "x": []any{1, "}", nil}})
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, append(std, '\n'))
	}
	// Escapes encoding/json accepts but never writes.
	for _, s := range []string{`"\/"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\uDC00\u00E9"`, `"\ud83d\u0041"`, `"\b\f\t"`} {
		checkDecode(t, []byte(`{"log":`+s+`,"time":"2026-01-02T03:04:05Z"}`+"\n"))
	}
}

func checkDecode(t *testing.T, rec []byte) {
	t.Helper()
	var want struct {
		Log    string
		Stream string
		Time   time.Time
		Attrs  map[string]string
	}
	if err := json.Unmarshal(rec, &want); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", rec, err)
	}
	var got Message
	if err := (jsonFormat{}).decode(rec, &got); err != nil {
		t.Fatalf("decode %q: %v", rec, err)
	}
	if string(got.Line) != want.Log || got.Stream != want.Stream || !got.Time.Equal(want.Time) || !cmp.Equal(got.Attrs, want.Attrs, cmp.FilterValues(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())) {
		t.Fatalf("decode %q:\n got %q %q %v %v\nwant %q %q %v %v", rec, got.Line, got.Stream, got.Time, got.Attrs, want.Log, want.Stream, want.Time, want.Attrs)
	}
}

func TestJSONDecodeMalformed(t *testing.T) {
	for _, line := range []string{
		"",
		"garbage",
		"\x00\x00\x00",
		`{"log":"x`,
		`{"log":"x\q","time":"2026-01-02T03:04:05Z"}`,
		`{"log":"x\'","time":"2026-01-02T03:04:05Z"}`,
		`{"log":"x","time":"yesterday"}`,
		`{"log":"x" "time":"2026-01-02T03:04:05Z"}`,
		`{"log":"x","attrs":{"a":1},"time":"2026-01-02T03:04:05Z"}`,
		`{"log":"x","extra":[1,2,"time":"2026-01-02T03:04:05Z"}`,
		`["log","x"]`,
	} {
		var m Message
		if err := (jsonFormat{}).decode([]byte(line+"\n"), &m); err == nil {
			t.Errorf("decode %q = %+v, want an error", line, m)
		}
	}
}

func TestJSONDecodeUnknownFields(t *testing.T) {
	line := `{ "extra" : {"a":[1,2,{"b":"}]"}]}, "log" : "x\n", "n": -1.5e3, "b": true, "z": null, "stream":"stdout","time":"2026-01-02T03:04:05Z" }` + "\n"
	var m Message
	if err := (jsonFormat{}).decode([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	want := Message{Stream: "stdout", Line: []byte("x\n"), Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func BenchmarkJSONEncode(b *testing.B) {
	m := Message{Stream: "stdout", Line: []byte(strings.Repeat("a log line with <some> \"quotes\" ", 3) + "\n"), Time: time.Now()}
	var buf []byte
	for b.Loop() {
		buf, _ = jsonFormat{}.appendRecord(buf[:0], &m, false, nil)
	}
}

func BenchmarkJSONDecode(b *testing.B) {
	m := Message{Stream: "stdout", Line: []byte(strings.Repeat("a log line with <some> \"quotes\" ", 3) + "\n"), Time: time.Now()}
	rec, _ := jsonFormat{}.appendRecord(nil, &m, false, nil)
	for b.Loop() {
		jsonFormat{}.decode(rec, &m)
	}
}
