package io.jcircus.server.control;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import oshi.SystemInfo;
import oshi.hardware.CentralProcessor;
import oshi.hardware.GlobalMemory;

/**
 * The machine's totals for the stats stream, through OSHI (what it is good at: system-wide figures; per-process
 * figures are read from /proc directly, which costs a fraction of OSHI's per-process calls). Created on the
 * stats thread, used there only.
 */
final class SystemTotals {
  private final CentralProcessor cpu;
  private final GlobalMemory memory;
  private long[] ticks;

  SystemTotals() {
    SystemInfo si = new SystemInfo();
    this.cpu = si.getHardware().getProcessor();
    this.memory = si.getHardware().getMemory();
    this.ticks = cpu.getSystemCpuLoadTicks();
  }

  /** {@code cpus}, {@code cpu} (% of the whole machine since the previous sample), {@code load}, memory in bytes. */
  Map<String, Object> sample() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpus", cpu.getLogicalProcessorCount());
    m.put("cpu", Math.round(cpu.getSystemCpuLoadBetweenTicks(ticks) * 1000) / 10.0);
    ticks = cpu.getSystemCpuLoadTicks();
    double[] load = cpu.getSystemLoadAverage(3);
    m.put("load", List.of(round2(load[0]), round2(load[1]), round2(load[2])));
    m.put("mem_total", memory.getTotal());
    m.put("mem_available", memory.getAvailable());
    return m;
  }

  private static double round2(double v) {
    return Math.round(v * 100) / 100.0;
  }
}
