package placement

import (
	"math/bits"
	"strconv"
	"time"
)

// The append helpers below build messages without fmt, because PlaceAll
// writes one message per site per workload and fmt's allocations dominated
// its profile.

// dateLayout is the layout of exception expiry dates in messages, always in UTC.
const dateLayout = "2 January 2006"

// appendCPU appends a non-negative millicore amount as cores, with up to
// three decimals and no trailing zeros: 2500 becomes "2.5".
func appendCPU(buf []byte, milli int64) []byte {
	buf = strconv.AppendInt(buf, milli/1000, 10)
	frac := milli % 1000
	if frac == 0 {
		return buf
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	buf = append(buf, '.')
	return append(buf, digits[:n]...)
}

var byteUnits = [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// appendBytes appends a non-negative byte count in binary units with up to
// two decimals, rounded down: 1610612736 becomes "1.5 GiB".
func appendBytes(buf []byte, n int64) []byte {
	if n < 1024 {
		buf = strconv.AppendInt(buf, n, 10)
		return append(buf, " B"...)
	}
	unitIndex := 0
	unit := int64(1024)
	for unitIndex < len(byteUnits)-1 && n/unit >= 1024 {
		unit *= 1024
		unitIndex++
	}
	buf = strconv.AppendInt(buf, n/unit, 10)
	hundredths := scaleDown(n%unit, 100, unit)
	if hundredths > 0 {
		buf = append(buf, '.', byte('0'+hundredths/10))
		if hundredths%10 != 0 {
			buf = append(buf, byte('0'+hundredths%10))
		}
	}
	buf = append(buf, ' ')
	return append(buf, byteUnits[unitIndex]...)
}

// scaleDown returns value*scale/whole rounded down, without overflow, for
// 0 <= value <= whole and whole > 0.
func scaleDown(value, scale, whole int64) int64 {
	hi, lo := bits.Mul64(uint64(value), uint64(scale))
	quotient, _ := bits.Div64(hi, lo, uint64(whole))
	return int64(quotient)
}

// appendMemoryPair appends "needs X memory but Y remain". When rounding would
// print the same figure twice, it prints exact byte counts instead.
func appendMemoryPair(buf []byte, needed, remaining int64) []byte {
	var neededText, remainingText [32]byte
	n := appendBytes(neededText[:0], needed)
	r := appendBytes(remainingText[:0], remaining)
	if string(n) == string(r) {
		n = append(strconv.AppendInt(neededText[:0], needed, 10), " B"...)
		r = append(strconv.AppendInt(remainingText[:0], remaining, 10), " B"...)
	}
	buf = append(buf, "needs "...)
	buf = append(buf, n...)
	buf = append(buf, " memory but "...)
	buf = append(buf, r...)
	return append(buf, " remain"...)
}

// appendDate appends t's UTC date, for example "31 March 2026".
func appendDate(buf []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(buf, dateLayout)
}

// appendList appends items separated by ", ".
func appendList(buf []byte, items []string) []byte {
	for i, item := range items {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, item...)
	}
	return buf
}
