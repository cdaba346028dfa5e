-- An organization's data region (issue 18, as dltHub binds organizations): chosen at its
-- creation, for good. Every workspace of an organization with one is in that region; an
-- organization without one (NULL, as every organization before) lets each workspace pick.
ALTER TABLE organizations ADD COLUMN region_id uuid REFERENCES regions (region_id);
