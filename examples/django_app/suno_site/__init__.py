"""A small Django project that receives Suno callbacks and shows the finished tracks."""
