-- A run's parameters (issue 20) are customer data: they stay on the workspace's data
-- plane, which answers an id for them. The control plane keeps that id only, hands it to
-- the data plane with the claim, and copies it to a retry. Never the values (R1).
ALTER TABLE runs ADD COLUMN parameters_id uuid;
