package runtime

import (
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
)

// eventBus fans events out to /events subscribers and keeps the last few
// for `since` queries. Slow subscribers lose events rather than block the
// daemon.
type eventBus struct {
	mu     sync.Mutex
	recent []events.Message
	subs   map[chan events.Message]struct{}
}

const recentEvents = 256

func newEventBus() *eventBus {
	return &eventBus{subs: map[chan events.Message]struct{}{}}
}

func (b *eventBus) publish(m events.Message) {
	now := time.Now()
	m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	if m.Scope == "" {
		m.Scope = "local"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recent = append(b.recent, m)
	if len(b.recent) > recentEvents {
		b.recent = append(b.recent[:0], b.recent[len(b.recent)-recentEvents:]...)
	}
	for ch := range b.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// subscribe returns past events at or after since and a channel of new ones.
func (b *eventBus) subscribe(since time.Time) ([]events.Message, chan events.Message) {
	ch := make(chan events.Message, 128)
	b.mu.Lock()
	defer b.mu.Unlock()
	var past []events.Message
	if !since.IsZero() {
		for _, m := range b.recent {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	b.subs[ch] = struct{}{}
	return past, ch
}

func (b *eventBus) unsubscribe(ch chan events.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, ch)
}

// ImageEvent publishes an image event (load, import, tag, delete).
func (d *Daemon) ImageEvent(id string, action events.Action) {
	d.events.publish(events.Message{
		Status: string(action), ID: id, Type: events.ImageEventType, Action: action,
		Actor: events.Actor{ID: id, Attributes: map[string]string{"name": id}},
	})
}

func (d *Daemon) event(c *Container, action events.Action, extra map[string]string) {
	spec, _ := c.Snapshot()
	attrs := map[string]string{"name": spec.Name, "image": spec.Image}
	for k, v := range spec.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	d.events.publish(events.Message{
		Status: string(action), ID: spec.ID, From: spec.Image,
		Type: events.ContainerEventType, Action: action,
		Actor: events.Actor{ID: spec.ID, Attributes: attrs},
	})
}

// Subscribe returns the recent events since since and a channel of the
// next ones; Unsubscribe ends it.
func (d *Daemon) Subscribe(since time.Time) ([]events.Message, chan events.Message) {
	return d.events.subscribe(since)
}

// Unsubscribe ends a subscription of Subscribe.
func (d *Daemon) Unsubscribe(ch chan events.Message) { d.events.unsubscribe(ch) }
