package sfutest

import (
	"sync"
	"testing"
	"time"
)

// Pacer calls send(n), n = 0, 1, 2…, every interval from a goroutine
// until Halt or the end of the test: the send loop of the tests' synthetic
// publishers. The zero value is ready to Run once.
type Pacer struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// Run starts the loop; the test's cleanup halts it.
func (p *Pacer) Run(t testing.TB, interval time.Duration, send func(n uint32)) {
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := uint32(0); ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			send(n)
		}
	}()
	t.Cleanup(p.Halt)
}

// Halt stops the loop and waits for it; calling it again, or before Run,
// does nothing.
func (p *Pacer) Halt() {
	if p.stop == nil {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
