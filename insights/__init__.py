"""What support leads read: deflection and contact reports, content gaps, root causes, impact, KB audit."""
