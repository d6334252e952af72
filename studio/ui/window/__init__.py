"""The studio window: it assembles the views, the worker and the registered tools;
its actions, menus, docks and answers to the worker live in small modules beside it."""
