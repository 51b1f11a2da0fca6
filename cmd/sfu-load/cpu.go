package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is sysconf(_SC_CLK_TCK), the unit of utime and stime in
// /proc/<pid>/stat; it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is a process's CPU time and a few scheduler figures.
type procSample struct {
	cpuTicks     uint64 // utime + stime
	rssKiB       uint64
	volSwitches  uint64
	ivolSwitches uint64
}

// cpuSeconds converts ticks to seconds.
func cpuSeconds(ticks uint64) float64 { return float64(ticks) / clockTicks }

// readProc samples /proc/<pid>/stat and /proc/<pid>/status, and sums
// the context switches of the process's threads (threads that already
// exited are not counted).
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.cpuTicks, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	parseStatus(status, &s)
	s.volSwitches, s.ivolSwitches = 0, 0 // per thread: sum the tasks
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return s, err
	}
	for _, t := range tasks[:min(len(tasks), maxTasks)] {
		var ts procSample
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name())); err == nil {
			parseStatus(b, &ts)
			s.volSwitches += ts.volSwitches
			s.ivolSwitches += ts.ivolSwitches
		}
	}
	return s, nil
}

// maxTasks bounds the threads whose context switches are summed.
const maxTasks = 4096

// parseStatus reads VmRSS and the context switch counts of a status file
// into s.
func parseStatus(status []byte, s *procSample) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for n := 0; sc.Scan() && n < 200; n++ {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			s.rssKiB = v
		case "voluntary_ctxt_switches":
			s.volSwitches = v
		case "nonvoluntary_ctxt_switches":
			s.ivolSwitches = v
		}
	}
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) may contain spaces
// and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("only %d fields", len(f)+2)
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return u + st, nil
}
