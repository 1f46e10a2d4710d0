/**
 * The synthetic, deterministic, CVMFS-like tree testfs serves: nested directories of a given depth
 * and fan-out, files spread over the leaves with sizes drawn from a seeded heavy-tailed
 * distribution, and content that is a function of (inode, offset), so readers can verify it.
 * @module
 */

/** Shape of the tree. */
export interface TreeOptions {
  /** Directory levels below the root (default 3). */
  depth?: number;
  /** Subdirectories per directory (default 4). */
  fanout?: number;
  /** Files in the whole tree (default 1000), spread evenly over the deepest directories. */
  files?: number;
  /** PRNG seed for sizes (default 1). */
  seed?: number;
  /** Multiplies every file size (default 1; median size ≈ 4 KiB). */
  sizeScale?: number;
}

/** One node; its inode number is its index in `Tree.nodes`. */
export interface TreeNode {
  ino: number;
  parent: number;
  name: string;
  dir: boolean;
  size: number;
  /** Children by name (directories only), in listing order. */
  children: Map<string, number>;
}

/** A tree; inode 1 is the root (index 0 is unused). */
export interface Tree {
  nodes: TreeNode[];
  /** Relative paths of the files and directories (not the root), parents first. */
  dirs: string[];
  files: string[];
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the tree. */
export function buildTree(o: TreeOptions = {}): Tree {
  const depth = o.depth ?? 3;
  const fanout = o.fanout ?? 4;
  const files = o.files ?? 1000;
  const rnd = prng(o.seed ?? 1);
  const scale = o.sizeScale ?? 1;
  const nodes: TreeNode[] = [
    { ino: 0, parent: 0, name: "", dir: true, size: 0, children: new Map() },
    { ino: 1, parent: 1, name: "", dir: true, size: 4096, children: new Map() },
  ];
  const paths = new Map<number, string>([[1, ""]]);
  const tree: Tree = { nodes, dirs: [], files: [] };
  const add = (parent: number, name: string, dir: boolean, size: number) => {
    const ino = nodes.length;
    nodes.push({ ino, parent, name, dir, size, children: new Map() });
    nodes[parent]!.children.set(name, ino);
    const path = paths.get(parent) ? `${paths.get(parent)}/${name}` : name;
    paths.set(ino, path);
    (dir ? tree.dirs : tree.files).push(path);
    return ino;
  };
  let level = [1];
  for (let d = 0; d < depth; d++) {
    const next: number[] = [];
    for (const p of level) {
      for (let i = 0; i < fanout; i++) {
        next.push(add(p, d === 0 ? `sw${i}` : `d${d}_${i}`, true, 4096));
      }
    }
    level = next;
  }
  for (let i = 0; i < files; i++) {
    // Log-normal sizes around 4 KiB (σ = 1.5): many small files, a few large ones, like software.
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const size = Math.max(0, Math.round(Math.exp(Math.log(4096) + 1.5 * z) * scale));
    add(level[i % level.length]!, `f${i}.py`, false, Math.min(size, 64 << 20));
  }
  return tree;
}

/** The byte at `offset` of file `ino`. */
export function contentByte(ino: number, offset: number): number {
  return (ino * 131 + offset * 7 + (offset >> 8)) & 0xff;
}

/** `length` bytes of file `ino` from `offset`. */
export function content(ino: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = contentByte(ino, offset + i);
  return out;
}
