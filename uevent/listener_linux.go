package uevent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const (
	// kernelGroup is the netlink multicast group of kernel uevents (udevd
	// re-broadcasts on group 2 in libudev format).
	kernelGroup = 1
	// rcvbufSize is udevd's receive buffer size: enough for the bursts a hub
	// full of sticks causes.
	rcvbufSize = 128 << 20
	// Events buffered between the reader goroutine and the receiver.
	queueLen = 256
)

// recvFunc is unix.Recvmsg; tests replace it.
type recvFunc func(fd int, p, oob []byte, flags int) (n, oobn, recvflags int, from unix.Sockaddr, err error)

// Listener receives kernel uevents from a NETLINK_KOBJECT_UEVENT socket.
type Listener struct {
	fd, stopfd int // the netlink socket and the eventfd that interrupts poll
	recv       recvFunc
	events     chan Event
	done       chan struct{} // closed by Close
	exited     chan struct{} // closed when the reader goroutine has returned
	err        error         // why the reader stopped on its own; read after exited
	dropped    atomic.Uint64
	overflows  atomic.Uint64
	closeOnce  sync.Once
	closeErr   error
}

// Listen opens a non-blocking NETLINK_KOBJECT_UEVENT socket bound to the
// kernel's multicast group, with a 128 MiB receive buffer (SO_RCVBUFFORCE,
// which needs CAP_NET_ADMIN, else as much as SO_RCVBUF allows) and sender
// credentials (SO_PASSCRED), and starts reading it.
func Listen() (*Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	if err := setup(fd, rcvbufSize); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return start(fd, unix.Recvmsg, queueLen)
}

func setup(fd, rcvbuf int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			return fmt.Errorf("uevent socket: set receive buffer: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fmt.Errorf("uevent socket: SO_PASSCRED: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: kernelGroup}); err != nil {
		return fmt.Errorf("uevent socket: bind to the kernel group: %w", err)
	}
	return nil
}

// start makes a Listener reading the non-blocking socket fd, which it owns
// from then on (also when it fails), queueing up to queue events.
func start(fd int, recv recvFunc, queue int) (*Listener, error) {
	stopfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: eventfd: %w", err)
	}
	l := &Listener{
		fd: fd, stopfd: stopfd, recv: recv,
		events: make(chan Event, queue),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// Events returns the channel of received uevents. A gap (the kernel dropped
// uevents because the socket's buffer was full) arrives as an Event with
// Action ActionResync: rescan sysfs. The channel is closed after Close, or
// when reading fails for good (see Err).
func (l *Listener) Events() <-chan Event { return l.events }

// Err returns why the Events channel closed without Close being called, or
// nil.
func (l *Listener) Err() error {
	select {
	case <-l.exited:
		return l.err
	default:
		return nil
	}
}

// Dropped returns how many datagrams were dropped because they did not come
// from the kernel (sender port or credentials not 0), were truncated, or did
// not parse.
func (l *Listener) Dropped() uint64 { return l.dropped.Load() }

// Overflows returns how many times the kernel dropped uevents because the
// socket's receive buffer was full (ENOBUFS); each was delivered as an
// ActionResync event.
func (l *Listener) Overflows() uint64 { return l.overflows.Load() }

// Close stops the reader goroutine, waits for it to return, then closes the
// socket. It is safe to call more than once and from any goroutine.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, werr := unix.Write(l.stopfd, one[:])
		<-l.exited
		l.closeErr = errors.Join(werr, unix.Close(l.fd), unix.Close(l.stopfd))
	})
	return l.closeErr
}

// run is the reader goroutine: poll the socket and the stop eventfd, drain
// the socket, deliver events.
func (l *Listener) run() {
	// exited closes first, so that whoever sees Events closed can read Err.
	defer close(l.events)
	defer close(l.exited)
	buf := make([]byte, 64<<10) // uevents are below 8 KiB
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	fds := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}, {Fd: int32(l.stopfd), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			l.err = fmt.Errorf("uevent: poll: %w", err)
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if !l.drain(buf, oob) {
			return
		}
	}
}

// drain reads datagrams until the socket is empty. It returns false when
// the goroutine must stop.
func (l *Listener) drain(buf, oob []byte) bool {
	for {
		select {
		case <-l.done:
			return false
		default:
		}
		n, oobn, flags, from, err := l.recv(l.fd, buf, oob, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN:
			return true
		case err == unix.EINTR:
			continue
		case err == unix.ENOBUFS:
			l.overflows.Add(1)
			if !l.deliver(Event{Action: ActionResync}) {
				return false
			}
			continue
		case err != nil:
			l.err = fmt.Errorf("uevent: receive: %w", err)
			return false
		}
		ev, ok := l.accept(buf[:n], oob[:oobn], flags, from)
		if !ok {
			l.dropped.Add(1)
			continue
		}
		if !l.deliver(*ev) {
			return false
		}
	}
}

// accept checks that a datagram came from the kernel and parses it.
func (l *Listener) accept(b, oob []byte, flags int, from unix.Sockaddr) (*Event, bool) {
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return nil, false
	}
	if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
		return nil, false // sent by a process, not the kernel
	}
	if !fromRoot(oob) {
		return nil, false
	}
	ev, err := Parse(b)
	if err != nil {
		return nil, false
	}
	return ev, true
}

// fromRoot reports whether the SCM_CREDENTIALS in oob say pid 0, uid 0.
func fromRoot(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_CREDENTIALS {
			continue
		}
		cred, err := unix.ParseUnixCredentials(&m)
		if err != nil {
			return false
		}
		return cred.Uid == 0 && cred.Pid == 0
	}
	return false
}

// deliver sends ev unless Close was called first.
func (l *Listener) deliver(ev Event) bool {
	select {
	case l.events <- ev:
		return true
	case <-l.done:
		return false
	}
}
