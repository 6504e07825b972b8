-- Why: a student's home base. OneRoster marks a tutor group as classType=homeroom; its primary
-- teacher is the adult who should know the student, named on the card beside the check-in line
-- (and the one a "no adult, ever" flag is addressed to).
ALTER TABLE $db.roster_classes $on_cluster
    ADD COLUMN IF NOT EXISTS class_type LowCardinality(String) DEFAULT 'scheduled';
