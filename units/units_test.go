package units

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 3: "3 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB", 999_949: "999.9 kB",
		999_950: "1.0 MB", 6_576_959: "6.6 MB", 8_000_000_000: "8.0 GB", 8 << 30: "8.6 GB",
		2_900_000_000_000: "2.9 TB", -1_400_000: "-1.4 MB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestExact(t *testing.T) {
	for n, want := range map[int64]string{
		512: "512 B", 4523520: "4.5 MB (4523520 bytes)", 15376318464: "15.4 GB (15376318464 bytes)",
	} {
		if got := Exact(n); got != want {
			t.Errorf("Exact(%d) = %q, want %q", n, got, want)
		}
	}
}
