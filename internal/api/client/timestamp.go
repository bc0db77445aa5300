package client

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// apiTimestamp turns a --since/--until value into the API's
// "seconds.nanoseconds": a duration before now ("10m"), an RFC 3339 time
// or date (local when it has no zone), or Unix seconds as they are.
func apiTimestamp(value string, now time.Time) (string, error) {
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return strconv.FormatInt(now.Add(-d).Unix(), 10), nil
	}
	local := !strings.ContainsAny(value, "zZ+") && strings.Count(value, "-") != 3
	var format string
	switch {
	case strings.Contains(value, "."):
		format = time.RFC3339Nano
		if local {
			format = "2006-01-02T15:04:05.999999999"
		}
	case strings.Contains(value, "T"):
		colons := strings.Count(value, ":")
		if !local && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons-- // the zone's
		}
		format = [][3]string{
			{"2006-01-02T15Z07:00", "2006-01-02T15:04Z07:00", time.RFC3339},
			{"2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05"},
		}[boolIndex(local)][min(colons, 2)]
	case local:
		format = "2006-01-02"
	default:
		format = "2006-01-02Z07:00"
	}
	var t time.Time
	var err error
	if local {
		t, err = time.ParseInLocation(format, value, time.FixedZone(now.Zone()))
	} else {
		t, err = time.Parse(format, value)
	}
	if err != nil {
		if strings.Contains(value, "-") {
			return "", err
		}
		if !isUnixTimestamp(value) {
			return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
		}
		return value, nil
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), int64(t.Nanosecond())), nil
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isUnixTimestamp accepts "seconds[.nanoseconds]".
func isUnixTimestamp(v string) bool {
	s, n, ok := strings.Cut(v, ".")
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return false
	}
	if ok {
		if _, err := strconv.ParseInt(n, 10, 64); err != nil {
			return false
		}
	}
	return true
}
