package procfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseListening(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
`
	got := append(ParseListening(strings.NewReader(tcp)), ParseListening(strings.NewReader(tcp6))...)
	want := []struct {
		ip    string
		port  int
		inode string
	}{
		{"127.0.0.1", 8080, "1111"},
		{"0.0.0.0", 6379, "2222"},
		{"::1", 80, "4444"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d listeners, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].IP.String() != w.ip || got[i].Port != w.port || got[i].Inode != w.inode {
			t.Errorf("listener %d = %v:%d inode %s, want %s:%d inode %s", i, got[i].IP, got[i].Port, got[i].Inode, w.ip, w.port, w.inode)
		}
	}
}

func TestListenersFixture(t *testing.T) {
	fixture(t, map[string]map[string]string{
		"20": {"net/tcp": "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
			"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0\n" +
			"   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 100 0 0 10 0\n"},
	})
	fd := filepath.Join(Root, "20", "fd")
	os.MkdirAll(fd, 0o755)
	os.Symlink("socket:[2222]", filepath.Join(fd, "3"))
	os.Symlink("/dev/null", filepath.Join(fd, "0"))
	tests := []struct {
		name string
		pid  int
		want []int // ports
	}{
		{"holds one of the namespace's two listeners", 20, []int{6379}},
		{"no such process", 21, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Listeners(tt.pid)
			if len(got) != len(tt.want) {
				t.Fatalf("listeners = %+v, want ports %v", got, tt.want)
			}
			for i, p := range tt.want {
				if got[i].Port != p {
					t.Errorf("listener %d port %d, want %d", i, got[i].Port, p)
				}
			}
		})
	}
}
