package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/liveswap/liveswap/internal/host/engine"
	"github.com/liveswap/liveswap/plan"
)

// imageSource is a daemon with images and no running container.
type imageSource struct {
	images map[string]string // ref -> ID
	down   bool
}

func (s imageSource) Running(context.Context) ([]container.Summary, error) {
	if s.down {
		return nil, errors.New("listing containers: connection refused")
	}
	return nil, nil
}

func (s imageSource) Inspect(context.Context, string) (container.InspectResponse, error) {
	return container.InspectResponse{}, errors.New("no such container")
}

func (s imageSource) ImageID(_ context.Context, ref string) (string, error) {
	if s.down {
		return "", errors.New("connection refused")
	}
	if id, ok := s.images[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("%s: %w", ref, engine.ErrNoImage)
}

func TestPlanCanary(t *testing.T) {
	sh := []string{"/bin/sh", "-c", "true"}
	tests := []struct {
		name      string
		kind      string
		flag      string
		src       imageSource
		want      plan.Canary
		whyHas    string
		noteHas   string
		wantError string
	}{
		{"--canary-image present", plan.Docker, "local/base:1", imageSource{images: map[string]string{"local/base:1": "sha256:b"}},
			plan.Canary{Image: "local/base:1", Command: sh}, "named by --canary-image", "", ""},
		{"--canary-image absent: refused now, not after the swap", plan.Docker, "busybox", imageSource{},
			plan.Canary{}, "", "", "--canary-image busybox: the daemon has no such image"},
		{"--canary-image on a daemon that does not answer: kept, said", plan.Docker, "busybox", imageSource{down: true},
			plan.Canary{Image: "busybox", Command: sh}, "named by --canary-image", "not checked", ""},
		{"liveswapd: discovered as for dockerd (image host needs the daemon's opt-in)", plan.Liveswapd, "", imageSource{},
			plan.Canary{}, "no running container", "", ""},
		{"dockerd, nothing running: none, and why", plan.Docker, "", imageSource{},
			plan.Canary{}, "no running container", "", ""},
		{"dockerd down: none, and why", plan.Docker, "", imageSource{down: true},
			plan.Canary{}, "connection refused", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan.Plan{Target: plan.Target{Kind: tt.kind}}
			p.Default()
			var errb bytes.Buffer
			why, err := planCanary(context.Background(), &planOptions{Err: &errb, CanaryImage: tt.flag}, p, tt.src)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Canary, tt.want) || !strings.Contains(why, tt.whyHas) || !strings.Contains(errb.String(), tt.noteHas) {
				t.Errorf("canary %+v (%s), note %q; want %+v (%s), note with %q", p.Canary, why, errb.String(), tt.want, tt.whyHas, tt.noteHas)
			}
		})
	}
}
