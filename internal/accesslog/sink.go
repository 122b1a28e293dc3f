package accesslog

import (
	"bufio"
	"io"
	"sync"
)

// Sink writes lines to one destination from a goroutine of its own, through a bounded queue: a line that
// does not fit is dropped and counted (Options.Dropped), so a flood never slows the data plane.
type Sink struct {
	lines   chan []byte
	dropped func()

	mu     sync.RWMutex // guards closed against Write racing Close
	closed bool
}

// Write queues one line (a newline is added); it never blocks.
func (s *Sink) Write(line []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped()
		return
	}
	select {
	case s.lines <- line:
	default:
		s.dropped()
	}
}

func (s *Sink) run(w io.Writer) {
	bw := bufio.NewWriterSize(w, 64<<10)
	for line := range s.lines {
		_, _ = bw.Write(line)
		_ = bw.WriteByte('\n')
		if len(s.lines) == 0 {
			_ = bw.Flush()
		}
	}
	_ = bw.Flush()
}

// Sinks keeps one Sink per destination, opened on first use; Close stops them all.
type Sinks struct {
	open    func(destination string) (io.WriteCloser, error)
	queue   int
	dropped func()

	mu     sync.Mutex
	sinks  map[string]*Sink
	files  []io.WriteCloser
	closed bool
	wg     sync.WaitGroup
}

// NewSinks returns Sinks that open destinations with open, queue up to queue lines each, and call
// dropped for every line not written.
func NewSinks(open func(destination string) (io.WriteCloser, error), queue int, dropped func()) *Sinks {
	return &Sinks{open: open, queue: queue, dropped: dropped, sinks: map[string]*Sink{}}
}

// Get returns destination's Sink, opening it the first time.
func (s *Sinks) Get(destination string) (*Sink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk := s.sinks[destination]; sk != nil {
		return sk, nil
	}
	sk := &Sink{lines: make(chan []byte, s.queue), dropped: s.dropped}
	if s.closed {
		sk.closed = true
		return sk, nil
	}
	w, err := s.open(destination)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, w)
	s.sinks[destination] = sk
	s.wg.Go(func() { sk.run(w) })
	return sk, nil
}

// Close writes what is queued, stops every sink and closes the destinations.
func (s *Sinks) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, sk := range s.sinks {
		sk.mu.Lock()
		sk.closed = true
		close(sk.lines)
		sk.mu.Unlock()
	}
	s.mu.Unlock()
	s.wg.Wait()
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
