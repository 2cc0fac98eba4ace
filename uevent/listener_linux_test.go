package uevent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// hangGuard bounds how long a test waits for the kernel before declaring
// the event lost; it is a deadlock guard, not a speed assertion.
const hangGuard = 60 * time.Second

func TestListenCloseLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if _, ok := <-l.Events(); ok {
		t.Errorf("Events() still open after Close")
	}
	if err := l.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
}

// fakeRecv plays a script of recvmsg results on a socketpair, whose real
// readiness wakes the listener's poll.
type fakeRecv struct {
	script []func(p, oob []byte) (n, oobn, flags int, from unix.Sockaddr, err error)
	loop   func(p, oob []byte) (n, oobn, flags int, from unix.Sockaddr, err error) // after the script, if set
}

func (f *fakeRecv) recv(fd int, p, oob []byte, flags int) (int, int, int, unix.Sockaddr, error) {
	var b [16]byte
	unix.Read(fd, b[:]) // consume the wake-up byte, if any
	if len(f.script) == 0 {
		if f.loop != nil {
			return f.loop(p, oob)
		}
		return 0, 0, 0, nil, unix.EAGAIN
	}
	step := f.script[0]
	f.script = f.script[1:]
	return step(p, oob)
}

func datagram(msg string, nlPid uint32, cred *unix.Ucred) func(p, oob []byte) (int, int, int, unix.Sockaddr, error) {
	return func(p, oob []byte) (int, int, int, unix.Sockaddr, error) {
		n := copy(p, msg)
		oobn := 0
		if cred != nil {
			oobn = copy(oob, unix.UnixCredentials(cred))
		}
		return n, oobn, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1, Pid: nlPid}, nil
	}
}

func fail(err error) func(p, oob []byte) (int, int, int, unix.Sockaddr, error) {
	return func(p, oob []byte) (int, int, int, unix.Sockaddr, error) { return 0, 0, 0, nil, err }
}

// startFake starts a Listener on one end of a socketpair, driven by f, and
// makes the socket readable once.
func startFake(t *testing.T, f *fakeRecv) *Listener {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	l, err := start(fds[0], f.recv, queueLen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fds[1], []byte{1}); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListenerResyncAndTrust(t *testing.T) {
	defer goleak.VerifyNone(t)
	root := &unix.Ucred{}
	good := "add@/devices/virtual/block/loop7\x00ACTION=add\x00DEVPATH=/devices/virtual/block/loop7\x00SUBSYSTEM=block\x00SEQNUM=9\x00"
	f := &fakeRecv{script: []func([]byte, []byte) (int, int, int, unix.Sockaddr, error){
		fail(unix.EINTR),
		fail(unix.ENOBUFS),
		datagram(good, 4242, root), // sent by a process's port: dropped
		datagram(good, 0, &unix.Ucred{Pid: 0, Uid: 1000}),             // not uid 0: dropped
		datagram(good, 0, &unix.Ucred{Pid: 77, Uid: 0, Gid: 0}),       // not pid 0: dropped
		datagram(good, 0, nil),                                        // no credentials: dropped
		datagram("not a uevent", 0, root),                             // garbage: dropped
		datagram("libudev\x00\xfe\xed\xca\xfe", 0, root),              // libudev format: dropped
		datagram(strings.Replace(good, "loop7", "loop8", 2), 0, root), // kept
	}}
	l := startFake(t, f)
	var got []string
	for ev := range l.Events() {
		got = append(got, ev.Action+" "+ev.DevPath)
		if len(got) == 2 {
			break
		}
	}
	want := []string{"resync ", "add /devices/virtual/block/loop8"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if got := l.Dropped(); got != 6 {
		t.Errorf("Dropped() = %d, want 6", got)
	}
	if got := l.Overflows(); got != 1 {
		t.Errorf("Overflows() = %d, want 1", got)
	}
}

func TestListenerFatalErrorClosesEvents(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := startFake(t, &fakeRecv{script: []func([]byte, []byte) (int, int, int, unix.Sockaddr, error){fail(unix.EBADF)}})
	for range l.Events() {
		t.Errorf("event received, want none")
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "bad file descriptor") {
		t.Errorf("Err() = %v, want the receive error", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

// TestCloseWhileBlockedOnDelivery: nobody reads Events, the queue is full,
// and Close still returns with the goroutine gone.
func TestCloseWhileBlockedOnDelivery(t *testing.T) {
	defer goleak.VerifyNone(t)
	ev := "change@/devices/virtual/block/loop1\x00SEQNUM=1\x00"
	f := &fakeRecv{loop: datagram(ev, 0, &unix.Ucred{})}
	l := startFake(t, f)
	for len(l.events) < cap(l.events) {
		time.Sleep(time.Millisecond) // wait until the queue is full
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

// attachLoop attaches a temp file to a free loop device and returns its
// name ("loop3") and a detach function.
func attachLoop(t *testing.T) (name string, detach func()) {
	t.Helper()
	dev := looptest.Attach(t, looptest.Sparse(t, t.TempDir(), 1<<20), 0)
	return filepath.Base(dev), func() { looptest.Detach(dev) }
}

// waitFor reads events until one satisfies ok, and returns it with the
// events seen before it.
func waitFor(t *testing.T, l *Listener, what string, ok func(Event) bool) (Event, []Event) {
	t.Helper()
	var seen []Event
	timeout := time.After(hangGuard)
	for {
		select {
		case ev, open := <-l.Events():
			if !open {
				t.Fatalf("Events closed while waiting for %s: %v", what, l.Err())
			}
			if ok(ev) {
				return ev, seen
			}
			seen = append(seen, ev)
		case <-timeout:
			t.Fatalf("no uevent for %s after %v (seen: %+v)", what, hangGuard, seen)
		}
	}
}

// TestListenRealLoopDevice attaches a loop device after Listen: the kernel
// announces it (a loop attach sends change events) for block/loopN.
func TestListenRealLoopDevice(t *testing.T) {
	looptest.Require(t)
	l, err := Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	defer l.Close()
	name, detach := attachLoop(t)
	attach, _ := waitFor(t, l, name+" attach", func(ev Event) bool {
		return strings.HasSuffix(ev.DevPath, "/block/"+name) && (ev.Action == "add" || ev.Action == "change")
	})
	if attach.Subsystem != "block" || attach.DevName != name || attach.DevType != "disk" || attach.Seq == 0 {
		t.Errorf("event = %+v, want subsystem block, devname %s, devtype disk and a SEQNUM", attach, name)
	}
	detach()
	waitFor(t, l, name+" detach", func(ev Event) bool {
		return strings.HasSuffix(ev.DevPath, "/block/"+name) && ev.Action == "change" && ev.Seq > attach.Seq
	})
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

// TestListenDropsForgedUevent sends a forged uevent from a process's
// netlink socket straight to the listener's port, then makes the kernel
// send a real one: the forged one must never be delivered.
func TestListenDropsForgedUevent(t *testing.T) {
	testreq.Root(t, "(CAP_NET_ADMIN) to send to a uevent netlink port")
	looptest.Require(t)
	l, err := Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	defer l.Close()
	sa, err := unix.Getsockname(l.fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrNetlink).Pid
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	forged := "add@/devices/flashpipe-forged/block/sdz\x00ACTION=add\x00DEVPATH=/devices/flashpipe-forged/block/sdz\x00SUBSYSTEM=block\x00SEQNUM=1\x00"
	if err := unix.Sendto(s, []byte(forged), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}); err != nil {
		t.Fatalf("send forged uevent: %v", err)
	}
	name, _ := attachLoop(t)
	_, before := waitFor(t, l, name+" attach", func(ev Event) bool { return strings.HasSuffix(ev.DevPath, "/block/"+name) })
	for _, ev := range before {
		if strings.Contains(ev.DevPath, "flashpipe-forged") {
			t.Errorf("forged uevent delivered: %+v", ev)
		}
	}
	if l.Dropped() == 0 {
		t.Errorf("Dropped() = 0, want ≥ 1 (the forged uevent)")
	}
}

// TestListenOverflowResyncs fills a tiny socket buffer with real kernel
// uevents while nobody reads: the kernel drops some (ENOBUFS) and the
// listener must say so with a resync event, then keep delivering.
func TestListenOverflowResyncs(t *testing.T) {
	name, _ := attachLoop(t)
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	if err := setup(fd, 1); err != nil { // the kernel rounds up to its minimum
		unix.Close(fd)
		t.Fatal(err)
	}
	l, err := start(fd, unix.Recvmsg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	trigger := filepath.Join("/sys/block", name, "uevent")
	for range 64 { // each write makes the kernel broadcast a change uevent
		if err := os.WriteFile(trigger, []byte("change"), 0o200); err != nil {
			t.Fatalf("write %s: %v", trigger, err)
		}
	}
	waitFor(t, l, "resync", func(ev Event) bool { return ev.Action == ActionResync })
	if l.Overflows() == 0 {
		t.Errorf("Overflows() = 0 after a resync, want ≥ 1")
	}
	if err := os.WriteFile(trigger, []byte("change"), 0o200); err != nil {
		t.Fatalf("write %s: %v", trigger, err)
	}
	waitFor(t, l, name+" change after the resync", func(ev Event) bool {
		return ev.Action == "change" && strings.HasSuffix(ev.DevPath, "/block/"+name)
	})
}
