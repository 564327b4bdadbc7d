package enrich

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"strings"
)

// errNeedIndex means a zip cannot be read front to back (a stored entry
// whose size is only given after its data): the caller falls back to the
// central directory.
var errNeedIndex = errors.New("zip entry size unknown until its end")

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEnd        = 0x06054b50
	sigDescriptor = 0x08074b50
	sigZip64End   = 0x06064b50
)

// streamZipFile imports a zip by reading its local headers in order, so
// memory does not grow with the number of entries (archive/zip would hold
// the whole central directory).
func streamZipFile(src string, sum *Summary, add func(string, func() (io.ReadCloser, error)) error) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return streamZip(bufio.NewReaderSize(f, 256<<10), sum, add, 0)
}

func streamZip(br *bufio.Reader, sum *Summary, add func(string, func() (io.ReadCloser, error)) error, depth int) error {
	for first := true; ; first = false {
		var sig uint32
		if err := binary.Read(br, binary.LittleEndian, &sig); err != nil {
			if errors.Is(err, io.EOF) && !first {
				return nil
			}
			return fmt.Errorf("not a zip: %w", err)
		}
		switch sig {
		case sigLocal:
		case sigCentral, sigEnd, sigZip64End:
			return nil // the entries are done; the index follows
		default:
			if first {
				return errors.New("not a zip (no local file header)")
			}
			return fmt.Errorf("zip: unexpected signature %#x", sig)
		}
		var h struct {
			Version, Flags, Method, Time, Date uint16
			CRC, CSize, USize                  uint32
			NameLen, ExtraLen                  uint16
		}
		if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
			return fmt.Errorf("zip: local header: %w", err)
		}
		nameb := make([]byte, h.NameLen)
		extra := make([]byte, h.ExtraLen)
		if _, err := io.ReadFull(br, nameb); err != nil {
			return fmt.Errorf("zip: entry name: %w", err)
		}
		if _, err := io.ReadFull(br, extra); err != nil {
			return fmt.Errorf("zip: extra field: %w", err)
		}
		name := string(nameb)
		csize, zip64 := uint64(h.CSize), false
		for e := extra; len(e) >= 4; {
			id, n := binary.LittleEndian.Uint16(e), int(binary.LittleEndian.Uint16(e[2:]))
			if 4+n > len(e) {
				break
			}
			if id == 0x0001 { // zip64: original then compressed size
				zip64 = true
				d := e[4 : 4+n]
				if h.USize == 0xFFFFFFFF && len(d) >= 8 {
					d = d[8:]
				}
				if h.CSize == 0xFFFFFFFF && len(d) >= 8 {
					csize = binary.LittleEndian.Uint64(d)
				}
			}
			e = e[4+n:]
		}
		deferred := h.Flags&0x8 != 0
		if h.Flags&0x1 != 0 {
			return fmt.Errorf("zip: %s is encrypted", name)
		}
		if deferred && h.Method != 8 {
			return errNeedIndex
		}
		if h.Method != 0 && h.Method != 8 {
			return fmt.Errorf("zip: %s uses compression method %d", name, h.Method)
		}
		// raw is the entry's compressed bytes: bounded by csize, or, for
		// deflate with a trailing descriptor, by the deflate stream's end
		// (flate reads exactly to it from a ByteReader such as br).
		var raw io.Reader = br
		if !deferred {
			raw = io.LimitReader(br, int64(csize))
		}
		var body io.Reader = raw
		var fr io.ReadCloser
		if h.Method == 8 {
			fr = flate.NewReader(raw)
			body = fr
		}
		crc := crc32.NewIEEE()
		body = io.TeeReader(body, crc)
		data, isRecord, entryErr := handleEntry(name, body, sum, add, depth)
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("zip: %s: %w", name, err)
		}
		if fr != nil {
			fr.Close()
		}
		want := h.CRC
		if !deferred {
			if _, err := io.Copy(io.Discard, raw); err != nil {
				return fmt.Errorf("zip: %s: %w", name, err)
			}
		} else {
			var err error
			if want, err = readDescriptor(br, zip64); err != nil {
				return fmt.Errorf("zip: %s: %w", name, err)
			}
		}
		if entryErr != nil {
			return entryErr
		}
		if !isRecord {
			continue
		}
		// Only a whole, intact record reaches the database.
		if crc.Sum32() != want {
			sum.Read++
			sum.skip("corrupt zip entry (CRC mismatch)")
			continue
		}
		if err := add(name, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
			return err
		}
	}
}

// handleEntry reads a record entry into memory (isRecord), streams a
// nested zip, and ignores the rest.
func handleEntry(name string, body io.Reader, sum *Summary, add func(string, func() (io.ReadCloser, error)) error, depth int) (data []byte, isRecord bool, err error) {
	if strings.HasSuffix(strings.ToLower(name), ".zip") {
		if depth > 0 || !safeZipPath(name) {
			sum.skip("nested zip too deep or unsafe")
			return nil, false, nil
		}
		err := streamZip(bufio.NewReaderSize(body, 256<<10), sum, add, depth+1)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		return nil, false, nil
	}
	if !isRecordName(path.Base(name)) {
		return nil, false, nil
	}
	if !safeZipPath(name) {
		sum.Read++
		sum.skip("unsafe path in zip")
		return nil, false, nil
	}
	// Read one byte past the cap, so add sees an oversized record as such.
	data, err = io.ReadAll(io.LimitReader(body, maxRecordBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return data, true, nil
}

// readDescriptor reads the data descriptor after a deferred-size entry and
// returns its CRC.
func readDescriptor(br *bufio.Reader, zip64 bool) (uint32, error) {
	n := 12 // crc, csize, usize
	if zip64 {
		n = 20
	}
	peek, err := br.Peek(4)
	if err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(peek) == sigDescriptor {
		if _, err := br.Discard(4); err != nil {
			return 0, err
		}
	}
	d := make([]byte, n)
	if _, err := io.ReadFull(br, d); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(d), nil
}
