-- 0002: what makes the grid's queries fast at 100,000 photos (bench/db.ts), kept right by
-- triggers so no code path can forget it.
--  * photo_counts: photos per (dataset, class, status), so the sidebar's counts and the grid's
--    totals are a few rows, not a scan.
--  * photos.label_rank: the position of the photo's class, so "sort by label" follows the user's
--    class order through an index.
--  * predictions.label_class_id: the photo's current label copied next to its prediction, so
--    "label and prediction disagree" is a partial index, not a join over every photo.
--  * covering indexes: the page's ids come from the index alone; rows are read for 500 ids only.

CREATE TABLE photo_counts (
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  class_key   INTEGER NOT NULL,                  -- the class id, or 0 for unlabeled
  status      TEXT    NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (dataset_id, class_key, status)
) WITHOUT ROWID;

INSERT INTO photo_counts (dataset_id, class_key, status, n)
  SELECT dataset_id, coalesce(class_id, 0), status, count(*) FROM photos GROUP BY 1, 2, 3;

CREATE TRIGGER photos_count_insert AFTER INSERT ON photos BEGIN
  INSERT INTO photo_counts (dataset_id, class_key, status, n) VALUES (NEW.dataset_id, coalesce(NEW.class_id, 0), NEW.status, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER photos_count_delete AFTER DELETE ON photos BEGIN
  UPDATE photo_counts SET n = n - 1 WHERE dataset_id = OLD.dataset_id AND class_key = coalesce(OLD.class_id, 0) AND status = OLD.status;
END;

CREATE TRIGGER photos_count_update AFTER UPDATE OF class_id, status ON photos
  WHEN OLD.class_id IS NOT NEW.class_id OR OLD.status IS NOT NEW.status BEGIN
  UPDATE photo_counts SET n = n - 1 WHERE dataset_id = OLD.dataset_id AND class_key = coalesce(OLD.class_id, 0) AND status = OLD.status;
  INSERT INTO photo_counts (dataset_id, class_key, status, n) VALUES (NEW.dataset_id, coalesce(NEW.class_id, 0), NEW.status, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

ALTER TABLE photos ADD COLUMN label_rank INTEGER;     -- classes.position of class_id; NULL = unlabeled
UPDATE photos SET label_rank = (SELECT position FROM classes c WHERE c.id = photos.class_id);

CREATE TRIGGER photos_rank_insert AFTER INSERT ON photos WHEN NEW.class_id IS NOT NULL BEGIN
  UPDATE photos SET label_rank = (SELECT position FROM classes WHERE id = NEW.class_id) WHERE id = NEW.id;
END;

-- (LabelsRepo sets label_rank in the same UPDATE; this catches every other writer.)
CREATE TRIGGER photos_label_changed AFTER UPDATE OF class_id ON photos WHEN OLD.class_id IS NOT NEW.class_id BEGIN
  UPDATE photos SET label_rank = (SELECT position FROM classes WHERE id = NEW.class_id)
   WHERE id = NEW.id AND label_rank IS NOT (SELECT position FROM classes WHERE id = NEW.class_id);
  UPDATE predictions SET label_class_id = NEW.class_id WHERE photo_id = NEW.id;
END;

CREATE TRIGGER classes_position_changed AFTER UPDATE OF position ON classes WHEN OLD.position <> NEW.position BEGIN
  UPDATE photos SET label_rank = NEW.position WHERE class_id = NEW.id;
END;

ALTER TABLE predictions ADD COLUMN label_class_id INTEGER; -- = photos.class_id, kept by the triggers
UPDATE predictions SET label_class_id = (SELECT class_id FROM photos p WHERE p.id = predictions.photo_id);

-- (PredictionsRepo.write fills label_class_id on insert; photos_label_changed keeps it current.)

-- Covering versions of the sort indexes: status rides along for the missing/unreadable filters.
-- class_id is kept out of all but one of them on purpose: labeling 10,000 photos then rewrites
-- two index entries per photo, not five.
DROP INDEX photos_by_name;
DROP INDEX photos_by_date;
DROP INDEX photos_by_class;
DROP INDEX photos_class_fk; -- photos_by_class serves the lookups by class (with the dataset id)
CREATE INDEX photos_by_name  ON photos(dataset_id, name, id, status);
CREATE INDEX photos_by_date  ON photos(dataset_id, taken_at, id, status);
CREATE INDEX photos_by_class ON photos(dataset_id, class_id, name, id, status);
CREATE INDEX photos_by_label ON photos(dataset_id, label_rank, name, id, status);

-- covering (the class columns ride along) so that counting disagreements reads the index alone
CREATE INDEX predictions_disagree ON predictions(run_id, top1_p, photo_id, top1_class_id, label_class_id)
  WHERE label_class_id IS NOT NULL AND top1_class_id IS NOT label_class_id;
