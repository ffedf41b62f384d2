# stubs: written with the types
