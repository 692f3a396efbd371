-- 0001: the whole library as first shipped. Times are Unix milliseconds (INTEGER) unless named
-- otherwise; JSON columns hold text checked with json_valid. Every foreign key is declared so that
-- PRAGMA foreign_keys=ON keeps the file consistent.

-- A dataset is a named collection of photos with its own classes (a Lightroom "collection").
CREATE TABLE datasets (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(name)) > 0),
  root        TEXT,                              -- the last folder imported into it
  created_at  INTEGER NOT NULL
);

-- Classes (labels) of a dataset: a colour for the UI, a hotkey 1-9, an order for lists.
CREATE TABLE classes (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  name        TEXT    NOT NULL COLLATE NOCASE CHECK (length(trim(name)) > 0),
  colour      TEXT    NOT NULL CHECK (colour GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
  hotkey      TEXT    CHECK (hotkey IS NULL OR (length(hotkey) = 1 AND hotkey GLOB '[1-9]')),
  position    INTEGER NOT NULL,                  -- order in lists, 0-based
  created_at  INTEGER NOT NULL,
  UNIQUE (dataset_id, name)
);
CREATE UNIQUE INDEX classes_hotkey ON classes(dataset_id, hotkey) WHERE hotkey IS NOT NULL;

-- Photos: never moved or changed by us; `status` says whether the file is usable.
CREATE TABLE photos (
  id            INTEGER PRIMARY KEY,
  dataset_id    INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  path          TEXT    NOT NULL,                -- absolute path of the user's file
  name          TEXT    NOT NULL COLLATE NOCASE, -- base name, for sorting (case-insensitive) and display
  hash          TEXT,                            -- sha256 of the bytes, hex; the thumbnail key
  size          INTEGER NOT NULL,                -- bytes
  mtime         INTEGER,                         -- file modification time at import
  width         INTEGER,
  height        INTEGER,
  taken_at      TEXT,                            -- 'YYYY-MM-DD HH:MM:SS' local capture time
  date_source   TEXT CHECK (date_source IN ('exif', 'mtime')),
  imported_at   INTEGER NOT NULL,
  status        TEXT    NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'unreadable', 'missing')),
  status_reason TEXT,                            -- why unreadable/missing, one line
  -- the current label (its history is in label_actions/label_changes); kept here for the grid
  class_id      INTEGER REFERENCES classes(id) ON DELETE SET NULL,
  label_source  TEXT CHECK (label_source IN ('user', 'folder', 'prediction')),
  labeled_at    INTEGER,
  UNIQUE (dataset_id, path)
);
-- The grid's sort orders, each ending in id so that keyset pages are stable.
CREATE INDEX photos_by_name   ON photos(dataset_id, name, id);
CREATE INDEX photos_by_date   ON photos(dataset_id, taken_at, id);
CREATE INDEX photos_by_class  ON photos(dataset_id, class_id, name, id);
CREATE INDEX photos_by_hash   ON photos(dataset_id, hash);
CREATE INDEX photos_by_status ON photos(dataset_id, status) WHERE status <> 'ok';
CREATE INDEX photos_class_fk  ON photos(class_id);

-- Label history: one row per user action (a hotkey on 300 selected photos is one action), with
-- one change row per photo it touched. Undo walks back the 'done' actions, redo forward the
-- 'undone' ones; a new action discards what could have been redone.
CREATE TABLE label_actions (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  kind        TEXT    NOT NULL,                  -- 'set', 'clear', 'accept', 'import', 'merge'
  source      TEXT    NOT NULL CHECK (source IN ('user', 'folder', 'prediction')),
  description TEXT    NOT NULL,                  -- 'Label 12 photos as bees', for an Undo menu
  undoable    INTEGER NOT NULL DEFAULT 1,
  state       TEXT    NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone', 'discarded')),
  created_at  INTEGER NOT NULL
);
CREATE INDEX label_actions_stack ON label_actions(dataset_id, state, id);

CREATE TABLE label_changes (
  action_id     INTEGER NOT NULL REFERENCES label_actions(id) ON DELETE CASCADE,
  photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  old_class_id  INTEGER REFERENCES classes(id) ON DELETE CASCADE,
  old_source    TEXT,
  new_class_id  INTEGER REFERENCES classes(id) ON DELETE CASCADE,
  new_source    TEXT,
  PRIMARY KEY (action_id, photo_id)
) WITHOUT ROWID;
CREATE INDEX label_changes_photo ON label_changes(photo_id);
-- (no index on old/new_class_id: deleting a class scans the history once, labeling stays cheap)

-- Splits: a stratified train/val/test assignment, reproducible from its seed.
CREATE TABLE splits (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  seed        INTEGER NOT NULL,
  train       REAL    NOT NULL,                  -- fractions, adding up to 1
  val         REAL    NOT NULL,
  test        REAL    NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE TABLE split_members (
  split_id  INTEGER NOT NULL REFERENCES splits(id) ON DELETE CASCADE,
  photo_id  INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  subset    TEXT    NOT NULL CHECK (subset IN ('train', 'val', 'test')),
  PRIMARY KEY (split_id, photo_id)
) WITHOUT ROWID;
CREATE INDEX split_members_photo ON split_members(photo_id);

-- Training runs. pid/host let a later start tell a live run (another process) from a dead one.
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  dataset_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  split_id       INTEGER REFERENCES splits(id) ON DELETE SET NULL,
  name           TEXT,
  config         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
  preprocessing  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(preprocessing)),
  classes        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(classes)), -- output index -> name
  weights_source TEXT,                           -- 'imagenet:bvlc', 'scratch', a file path
  backend        TEXT,                           -- 'tensorflow', 'cpu', 'wasm', ...
  status         TEXT NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')),
  started_at     INTEGER NOT NULL,
  ended_at       INTEGER,
  error          TEXT,
  pid            INTEGER,
  host           TEXT
);
CREATE INDEX runs_by_dataset ON runs(dataset_id, id);
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';

-- Metrics, long format: one row per (run, step or epoch, name). Written in batches.
CREATE TABLE metrics (
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  scope   TEXT    NOT NULL CHECK (scope IN ('step', 'epoch')),
  name    TEXT    NOT NULL,                      -- 'loss', 'acc', 'val_loss', 'lr', ...
  idx     INTEGER NOT NULL,                      -- the step or epoch number
  epoch   INTEGER,                               -- for step metrics: the epoch it belongs to
  value   REAL,                                  -- NULL for NaN/Infinity
  at      INTEGER NOT NULL,
  PRIMARY KEY (run_id, scope, name, idx)
) WITHOUT ROWID;

-- Models and checkpoints written by a run.
CREATE TABLE models (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind        TEXT    NOT NULL CHECK (kind IN ('checkpoint', 'final', 'export')),
  format      TEXT    NOT NULL DEFAULT 'tfjs',   -- 'tfjs', 'onnx', ...
  path        TEXT    NOT NULL,
  epoch       INTEGER,
  step        INTEGER,
  metrics     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
  created_at  INTEGER NOT NULL
);
CREATE INDEX models_by_run ON models(run_id, id);

-- Predictions of a run's model on the dataset's photos: top-k as JSON, top-1 as columns so that
-- "predicted as X with p < 0.6" and "label and prediction disagree" are index lookups.
CREATE TABLE predictions (
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  photo_id       INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  top1_label     TEXT    NOT NULL,
  top1_class_id  INTEGER REFERENCES classes(id) ON DELETE SET NULL,
  top1_p         REAL    NOT NULL,
  topk           TEXT    NOT NULL CHECK (json_valid(topk)), -- [{"label","classId","p"}...]
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (run_id, photo_id)
) WITHOUT ROWID;
CREATE INDEX predictions_by_class ON predictions(run_id, top1_class_id, top1_p);
CREATE INDEX predictions_by_p ON predictions(run_id, top1_p, photo_id);
CREATE INDEX predictions_photo ON predictions(photo_id);
