/**
 * Maps a Parquet schema onto QuiverDB entries: which leaf column holds the ids (text or integer), the
 * optional `id_num` and `metadata` columns, and the `vector` list (its levels and element type), plus
 * the per-row-group checks on column chunks (position inside the data region, supported codec).
 */
import type { ColumnMetaData, FileMetaData, ParquetType, RowGroup, SchemaTree } from 'hyparquet';
import { parquetSchema } from 'hyparquet';
import { getMaxDefinitionLevel } from 'hyparquet/src/schema.js';
import { CorruptionError, QuiverError } from '../../errors.js';
import { COLUMN } from './constants.js';
import { checkCodec } from './codecs.js';

/** One leaf column: its index among the leaves (= its position in every row group) and its path. */
export interface Leaf {
  index: number;
  path: string[];
  type: ParquetType;
  /** Not REQUIRED (for flat columns: may hold nulls). */
  optional: boolean;
}

/** Where the entries live in a file. */
export interface Layout {
  id: Leaf & { kind: 'text' | 'int' };
  idNum?: Leaf;
  metadata?: Leaf;
  vector: Leaf & { maxDef: number; float: boolean };
  /** Number of leaf columns (every row group has this many chunks). */
  leaves: number;
}

function unsupported(file: string, problem: string): never {
  throw new QuiverError(
    'UNSUPPORTED_FORMAT',
    `${file}: ${problem}. QuiverDB reads Parquet files with columns "id" (string or integer), "vector" (list of FLOAT or DOUBLE), optional "metadata" (JSON text) and optional "id_num" (INT64).`,
    { file },
  );
}

function isLeaf(t: SchemaTree): boolean {
  return t.children.length === 0;
}

/** Finds the entry columns in the schema; a missing or mistyped column is UNSUPPORTED_FORMAT. */
export function describeLayout(metadata: FileMetaData, file: string): Layout {
  let root: SchemaTree;
  try {
    root = parquetSchema(metadata);
  } catch (err) {
    throw new CorruptionError({ file, section: 'footer schema' }, `the schema cannot be read (${(err as Error).message})`, 'CORRUPT', { cause: err });
  }
  const leaves: { tree: SchemaTree; chain: SchemaTree[] }[] = [];
  const walk = (t: SchemaTree, chain: SchemaTree[]): void => {
    if (isLeaf(t) && chain.length > 1) leaves.push({ tree: t, chain });
    for (const c of t.children) walk(c, [...chain, c]);
  };
  walk(root, [root]);
  const top = (name: string) => root.children.find((c) => c.element.name === name);
  const leafOf = (t: SchemaTree): Leaf => {
    const index = leaves.findIndex((l) => l.tree === t);
    return { index, path: t.path, type: t.element.type as ParquetType, optional: t.element.repetition_type !== 'REQUIRED' };
  };

  const idNode = top(COLUMN.id);
  if (!idNode) unsupported(file, 'there is no "id" column');
  const idType = idNode.element.type;
  if (!isLeaf(idNode) || idNode.element.repetition_type === 'REPEATED' || !(idType === 'BYTE_ARRAY' || idType === 'INT32' || idType === 'INT64')) {
    unsupported(file, `column "id" must be a string or integer column (found ${describeNode(idNode)})`);
  }
  const layout: Partial<Layout> = { id: { ...leafOf(idNode), kind: idType === 'BYTE_ARRAY' ? 'text' : 'int' }, leaves: leaves.length };

  const idNum = top(COLUMN.idNum);
  if (idNum) {
    if (!isLeaf(idNum) || idNum.element.repetition_type === 'REPEATED' || !(idNum.element.type === 'INT64' || idNum.element.type === 'INT32')) {
      unsupported(file, `column "id_num" must be an INT64 column (found ${describeNode(idNum)})`);
    }
    if (layout.id?.kind === 'text') layout.idNum = leafOf(idNum);
  }

  const meta = top(COLUMN.metadata);
  if (meta) {
    if (!isLeaf(meta) || meta.element.repetition_type === 'REPEATED' || meta.element.type !== 'BYTE_ARRAY') {
      unsupported(file, `column "metadata" must hold JSON text (found ${describeNode(meta)})`);
    }
    layout.metadata = leafOf(meta);
  }

  const vec = top(COLUMN.vector);
  if (!vec) unsupported(file, 'there is no "vector" column');
  const chain = [root, vec];
  let node = vec;
  while (node.children.length === 1) {
    node = node.children[0];
    chain.push(node);
  }
  const repeated = chain.filter((t) => t.element.repetition_type === 'REPEATED').length;
  const leafType = node.element.type;
  if (!isLeaf(node) || repeated !== 1 || !(leafType === 'FLOAT' || leafType === 'DOUBLE')) {
    const found = isLeaf(node) && repeated === 1 ? `a list of ${describeNode(node)}` : describeNode(vec);
    unsupported(file, `column "vector" must be a list of FLOAT (found ${found})`);
  }
  layout.vector = { ...leafOf(node), maxDef: getMaxDefinitionLevel(chain), float: leafType === 'FLOAT' };
  return layout as Layout;
}

function describeNode(t: SchemaTree): string {
  const rep = t.element.repetition_type ?? 'REQUIRED';
  if (!isLeaf(t)) return `${rep} group (${t.children.map((c) => c.element.name).join(', ')})`;
  const logical = t.element.converted_type ?? t.element.logical_type?.type;
  return `${rep} ${t.element.type ?? 'untyped'}${logical ? ` (${logical})` : ''}`;
}

/** A column chunk's byte range and metadata after checking it lies inside the data region. */
export interface ChunkRef {
  start: number;
  end: number;
  meta: ColumnMetaData;
  /** "row group G column NAME", for error messages. */
  section: string;
}

/** Checks and returns the chunk of `leaf` in row group `g`. */
export function chunkOf(rg: RowGroup, g: number, leaf: Leaf, layout: Layout, dataEnd: number, file: string): ChunkRef {
  const section = `row group ${g} column ${leaf.path.join('.')}`;
  const bad = (problem: string): never => {
    throw new CorruptionError({ file, section }, problem);
  };
  if (rg.columns.length !== layout.leaves) bad(`the row group has ${rg.columns.length} column chunks but the schema has ${layout.leaves} columns`);
  const chunk = rg.columns[leaf.index];
  const meta = chunk.meta_data;
  if (chunk.file_path) throw new QuiverError('UNSUPPORTED_FORMAT', `${file}: ${section} lives in another file (${chunk.file_path}); QuiverDB reads single-file Parquet only.`, { file });
  if (!meta) return bad('the column chunk has no metadata');
  if (meta.path_in_schema.join('.') !== leaf.path.join('.')) bad(`the column chunk is for "${meta.path_in_schema.join('.')}", not "${leaf.path.join('.')}"`);
  if (meta.type !== leaf.type) bad(`the column chunk holds ${meta.type} values but the schema says ${leaf.type}`);
  checkCodec(meta.codec, file, leaf.path[0]);
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  const end = start + Number(meta.total_compressed_size);
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 4 && start <= end && end <= dataEnd)) {
    bad(`the column chunk [${start}, ${end}) is not inside the data region [4, ${dataEnd})`);
  }
  return { start, end, meta, section };
}
