/**
 * What the WGSL generator may assume about the device: the adapter limits
 * that decide workgroup sizes, matmul tiles and dispatch shapes. The runtime
 * reads them from the device; without one (tests that only emit text) the
 * compatibility-mode minimums of the WebGPU spec apply.
 */

export interface WgslTarget {
  readonly maxInvocationsPerWorkgroup: number;
  readonly maxWorkgroupSizeX: number;
  readonly maxWorkgroupSizeY: number;
  readonly maxWorkgroupStorageBytes: number;
  readonly maxWorkgroupsPerDimension: number;
  readonly maxStorageBufferBindingSize: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

/** WebGPU's guaranteed minimums in compatibility mode (core mode guarantees more). */
export const MIN_TARGET: WgslTarget = {
  maxInvocationsPerWorkgroup: 128,
  maxWorkgroupSizeX: 128,
  maxWorkgroupSizeY: 128,
  maxWorkgroupStorageBytes: 16384,
  maxWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 134217728,
  minStorageBufferOffsetAlignment: 256,
  maxStorageBuffersPerShaderStage: 4,
};

export function targetFromLimits(limits: GPUSupportedLimits): WgslTarget {
  return {
    maxInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    maxWorkgroupSizeY: limits.maxComputeWorkgroupSizeY,
    maxWorkgroupStorageBytes: limits.maxComputeWorkgroupStorageSize,
    maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    minStorageBufferOffsetAlignment: limits.minStorageBufferOffsetAlignment,
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
  };
}

/** Workgroups for `count` tiles or invocation groups, as (x, y) within the per-dimension limit. */
export function dispatchShape(count: number, target: WgslTarget): [number, number] {
  const x = Math.max(Math.min(count, target.maxWorkgroupsPerDimension), 1);
  return [x, Math.max(Math.ceil(count / x), 1)];
}
