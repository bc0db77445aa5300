package runtime

import (
	"reflect"
	"testing"
)

func TestBlkioV1(t *testing.T) {
	in := "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n"
	got := blkioV1([]byte(in))
	want := []BlkioEntry{
		{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Sync", 0}, {8, 0, "Total", 12288},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestIOV2(t *testing.T) {
	got := ioV2([]byte("259:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n"))
	want := BlockIOUsage{
		ServiceBytes: []BlkioEntry{{259, 0, "Read", 100}, {259, 0, "Write", 200}},
		Serviced:     []BlkioEntry{{259, 0, "Read", 3}, {259, 0, "Write", 4}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestKeyed(t *testing.T) {
	got := map[string]uint64{}
	keyed([]byte("cache 10\nrss 20\nbad line\nnan x\n"), func(k string, v uint64) { got[k] = v })
	if !reflect.DeepEqual(got, map[string]uint64{"cache": 10, "rss": 20}) {
		t.Errorf("got %v", got)
	}
}
